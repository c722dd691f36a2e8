package model

import (
	"encoding/json"
	"math"
	"os"
	"reflect"
	"testing"

	"github.com/imggen/imggen/internal/sampler"
	"github.com/imggen/imggen/internal/weights"
)

// SD 2.x fixtures: testdata/sd2 holds the sd2-tiny model as a diffusers
// folder (F16) and as an original single file with its yaml.
const (
	sd2Folder = "../../testdata/sd2/model"
	sd2File   = "../../testdata/sd2/sd2-tiny.fp16.safetensors"
)

func TestSD2LoadsBothLayouts(t *testing.T) {
	dir, err := Load(sd2Folder, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	one, err := Load(sd2File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	for _, m := range []*Model{dir, one} {
		if m.Family != SD2 || m.TextEncoders[0].PadID != 0 {
			t.Errorf("%s: family %q pad %d, want SD 2.x, 0", m.Layout, m.Family.Name, m.TextEncoders[0].PadID)
		}
		cfg, err := sampler.ParseConfig(m.Scheduler)
		if err != nil {
			t.Fatalf("%s: scheduler: %v", m.Layout, err)
		}
		if cfg.PredictionType != "v_prediction" || cfg.BetaStart != 0.00085 || cfg.BetaEnd != 0.012 ||
			cfg.StepsOffset != 1 || cfg.BetaSchedule != "scaled_linear" || cfg.SetAlphaToOne == nil || *cfg.SetAlphaToOne || cfg.ClipSample {
			t.Errorf("%s: scheduler config %+v", m.Layout, cfg)
		}
	}
	if !reflect.DeepEqual(dir.TextEncoders[0].Config, one.TextEncoders[0].Config) {
		t.Errorf("text config: folder %+v, single file %+v", dir.TextEncoders[0].Config, one.TextEncoders[0].Config)
	}
	if one.TextEncoders[0].Config.NumHiddenLayers != 4 || one.TextEncoders[0].Config.NumAttentionHeads != 2 || one.TextEncoders[0].Config.HiddenAct != "gelu" {
		t.Errorf("single-file text config %+v", one.TextEncoders[0].Config)
	}
	for l := 0; l < len(dir.UNet.BlockOutChannels); l++ {
		if a, b := dir.UNet.Heads(l), one.UNet.Heads(l); a != b {
			t.Errorf("unet level %d: %d heads in the folder, %d in the single file", l, a, b)
		}
	}
	if !one.UNet.UseLinearProjection || !dir.UNet.UseLinearProjection {
		t.Error("use_linear_projection not detected")
	}
	if !reflect.DeepEqual(dir.UNet.BlockOutChannels, one.UNet.BlockOutChannels) ||
		!reflect.DeepEqual(dir.UNet.DownBlockTypes, one.UNet.DownBlockTypes) ||
		!reflect.DeepEqual(dir.UNet.UpBlockTypes, one.UNet.UpBlockTypes) ||
		dir.UNet.CrossAttentionDim != one.UNet.CrossAttentionDim {
		t.Errorf("unet config: folder %+v, single file %+v", dir.UNet, one.UNet)
	}

	// Every tensor of the folder, bit for bit from the single file, and
	// nothing more.
	for _, p := range []struct {
		name string
		a, b weights.Source
	}{{"text_encoder", dir.TextEncoders[0].Weights, one.TextEncoders[0].Weights}, {"unet", dir.UNetWeights, one.UNetWeights}, {"vae", dir.VAEWeights, one.VAEWeights}} {
		ca, cb := p.a.(*Component), p.b.(*Component)
		if !reflect.DeepEqual(ca.Names(), cb.Names()) {
			t.Errorf("%s: %d keys in the folder, %d in the single file", p.name, len(ca.Names()), len(cb.Names()))
		}
		for _, k := range ca.Names() {
			sa, _ := ca.Shape(k)
			sb, ok := cb.Shape(k)
			if !ok || !reflect.DeepEqual(sa, sb) {
				t.Errorf("%s %s: shape %v vs %v", p.name, k, sa, sb)
				continue
			}
			va, err := ca.Float32(k)
			if err != nil {
				t.Fatal(err)
			}
			vb, err := cb.Float32(k)
			if err != nil {
				t.Fatal(err)
			}
			for i := range va {
				if math.Float32bits(va[i]) != math.Float32bits(vb[i]) {
					t.Errorf("%s %s: element %d %v vs %v", p.name, k, i, va[i], vb[i])
					break
				}
			}
			ra, da, err := ca.Raw(k)
			if err != nil {
				t.Fatal(err)
			}
			rb, db, err := cb.Raw(k)
			if err != nil {
				t.Fatal(err)
			}
			if da != db || string(ra) != string(rb) {
				t.Errorf("%s %s: raw bytes differ (%s %d vs %s %d)", p.name, k, da, len(ra), db, len(rb))
			}
		}
	}
}

// TestSD2KeyMap checks the single-file mapping against the fixture's key
// map: every mapped key lands on its diffusers name, the last resblock and
// text_projection are left out.
func TestSD2KeyMap(t *testing.T) {
	b, err := os.ReadFile("../../testdata/sd2/single_file_keymap.json")
	if err != nil {
		t.Fatal(err)
	}
	var km []struct {
		LDM       string          `json:"ldm"`
		Component *string         `json:"component"`
		Diffusers json.RawMessage `json:"diffusers"`
	}
	if err := json.Unmarshal(b, &km); err != nil {
		t.Fatal(err)
	}
	one, err := Load(sd2File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	o, err := open(sd2File)
	if err != nil {
		t.Fatal(err)
	}
	defer o.close()
	if len(o.unknown) != 0 {
		t.Errorf("unknown keys: %v", o.unknown)
	}
	comps := map[string]*Component{
		"text_encoder": one.TextEncoders[0].Weights.(*Component), "unet": one.UNetWeights.(*Component), "vae": one.VAEWeights.(*Component),
	}
	ignored := map[string]bool{}
	for _, n := range o.ignored {
		ignored[n] = true
	}
	mapped := 0
	for _, e := range km {
		if e.Component == nil || comps[*e.Component] == nil { // unused, or the last resblock
			if !ignored[e.LDM] {
				t.Errorf("%s: unused by SD, not ignored", e.LDM)
			}
			continue
		}
		var names []string
		if json.Unmarshal(e.Diffusers, &names) != nil {
			var n string
			if err := json.Unmarshal(e.Diffusers, &n); err != nil {
				t.Fatalf("%s: diffusers %s", e.LDM, e.Diffusers)
			}
			names = []string{n}
		}
		c := comps[*e.Component]
		for _, n := range names {
			if got := c.Stored(n); got != e.LDM {
				t.Errorf("%s %s: stored as %q, want %q", *e.Component, n, got, e.LDM)
			}
			mapped++
		}
	}
	total := 0
	for _, c := range comps {
		total += len(c.Names())
	}
	if mapped != total {
		t.Errorf("key map names %d diffusers tensors, the loader has %d", mapped, total)
	}
	t.Logf("%d key map entries, %d diffusers tensors, %d ignored", len(km), mapped, len(o.ignored))
}
