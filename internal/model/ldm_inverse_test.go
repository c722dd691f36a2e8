package model

import (
	"reflect"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

// TestLDMNameInvertsMapping: for every tensor of the single-file fixture,
// inverse(forward(name)) == name, shapes included, and every mapped key is
// reached.
func TestLDMNameInvertsMapping(t *testing.T) {
	f, err := safetensors.Open(fp16File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := load(t, fp16File)
	lay := NewLDMLayout(m.UNet, m.VAE)
	fwd := ldmLayoutOf(f.Names())
	mapped := 0
	for _, name := range f.Names() {
		in, _ := f.Info(name)
		comp, key, kind := mapLDMKey(name, fwd)
		if kind == keyUnknown {
			t.Errorf("fixture key %q not mapped", name)
			continue
		}
		if kind == keyIgnored {
			continue
		}
		mapped++
		c := []*Component{m.UNetWeights.(*Component), m.VAEWeights.(*Component), m.TextEncoders[0].Weights.(*Component)}[comp]
		shape, ok := c.Shape(key)
		if !ok {
			t.Errorf("%s: %q (from %q) not in the loaded model", c.Name, key, name)
			continue
		}
		back, backShape, err := LDMName(compNames[comp], key, shape, lay)
		if err != nil {
			t.Errorf("LDMName(%s, %q): %v", compNames[comp], key, err)
			continue
		}
		if back != name || !reflect.DeepEqual(backShape, in.Shape) {
			t.Errorf("%q %v -> %s %q %v -> %q %v", name, in.Shape, compNames[comp], key, shape, back, backShape)
		}
	}
	total := len(m.UNetWeights.(*Component).Names()) + len(m.VAEWeights.(*Component).Names()) + len(m.TextEncoders[0].Weights.(*Component).Names())
	if mapped != total || mapped < 900 {
		t.Errorf("%d keys mapped, model has %d", mapped, total)
	}
}

// TestLDMNameOfRecordedKeys builds the fixture's networks over a key
// recorder and checks that forward(inverse(k)) == k for every key they ask
// for, and that unknown names are refused.
func TestLDMNameOfRecordedKeys(t *testing.T) {
	u, v, x := fixtureConfigs(t)
	lay := NewLDMLayout(u, v)
	rec := map[string]*weights.KeyRecorder{CompUNet: {}, CompVAE: {}, CompText: {}}
	if _, err := unet.Load(u, weights.NewLoader(rec[CompUNet])); err != nil {
		t.Fatal(err)
	}
	if _, err := vae.Load(v, weights.NewLoader(rec[CompVAE])); err != nil {
		t.Fatal(err)
	}
	if _, err := textenc.LoadTextModel(x, weights.NewLoader(rec[CompText])); err != nil {
		t.Fatal(err)
	}
	var names []string
	want := map[string]string{}
	for comp, r := range rec {
		for _, k := range r.Keys {
			n, _, err := LDMName(comp, k.Name, k.Shape, lay)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
			want[n] = comp + "/" + k.Name
		}
	}
	if len(want) != len(names) {
		t.Fatalf("%d names for %d keys: the inverse is not one-to-one", len(want), len(names))
	}
	fwd := ldmLayoutOf(names)
	for _, n := range names {
		comp, key, kind := mapLDMKey(n, fwd)
		if kind != keyMapped || compNames[comp]+"/"+key != want[n] {
			t.Errorf("%q maps back to %s/%q (kind %d), want %s", n, compNames[comp], key, kind, want[n])
		}
	}
	for _, bad := range []struct{ comp, key string }{
		{CompUNet, "down_blocks.0.resnets.9.conv1.weight"},
		{CompUNet, "up_blocks.7.upsamplers.0.conv.weight"},
		{CompUNet, "nonsense.weight"},
		{CompVAE, "decoder.up_blocks.4.resnets.0.conv1.weight"},
		{CompVAE, "encoder.mid_block.attentions.0.to_x.weight"},
		{CompText, "embeddings.position_embedding.weight"},
		{"other", "x"},
	} {
		if n, _, err := LDMName(bad.comp, bad.key, nil, lay); err == nil {
			t.Errorf("LDMName(%s, %q) = %q, want an error", bad.comp, bad.key, n)
		} else if !strings.Contains(err.Error(), bad.comp) {
			t.Errorf("error %q does not name the component", err)
		}
	}
}
