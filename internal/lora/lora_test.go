package lora

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/safetensors/sttest"
)

type tensor = sttest.Tensor

var filled = sttest.Filled

// write writes ts as a safetensors file named name in a fresh folder.
func write(t *testing.T, name string, ts map[string]tensor) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	sttest.WriteF32(t, path, ts)
	return path
}

const mod = "lora_unet_down_blocks_0_attentions_0_proj_in"

func TestOpen(t *testing.T) {
	f, err := Open(write(t, "ink.safetensors", map[string]tensor{
		mod + ".lora_down.weight": filled(0.5, 2, 4), mod + ".lora_up.weight": filled(0.25, 3, 2), mod + ".alpha": filled(1),
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := f.Modules[0]
	if f.Name != "ink" || f.Format != Kohya || len(f.Modules) != 1 || m.Rank != 2 || m.Scale() != 0.5 || len(f.Hash) != 12 {
		t.Errorf("%+v, module %+v", f, m)
	}
	// diffusers/PEFT names without alpha: scale 1.
	f, err = Open(write(t, "p.safetensors", map[string]tensor{
		"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight": filled(0.5, 2, 4),
		"unet.down_blocks.0.attentions.0.proj_in.lora_B.weight": filled(0.5, 3, 2),
	}))
	if err != nil || f.Format != PEFT || f.Modules[0].Scale() != 1 {
		t.Fatalf("%v %+v", err, f)
	}
	binds, err := f.Resolve([]Target{{Component: "unet", Prefixes: []string{"unet"},
		Names: map[string]string{"down_blocks.0.attentions.0.proj_in": "down_blocks.0.attentions.0.proj_in"}}})
	if err != nil || len(binds) != 1 || binds[0].Layer != "down_blocks.0.attentions.0.proj_in" {
		t.Errorf("%v %+v", err, binds)
	}
	if _, err := f.Resolve([]Target{{Component: "text_encoder", Prefixes: []string{"te", "text_encoder"}}}); err == nil ||
		!strings.Contains(err.Error(), "1 of 1 modules match no layer") {
		t.Errorf("resolve against another network: %v", err)
	}
}

// TestHostileFiles: every file that is not a LoRA imggen applies is
// refused whole with a message that says why, never applied in part.
func TestHostileFiles(t *testing.T) {
	down, up := filled(0.5, 2, 4), filled(0.5, 3, 2)
	nan := filled(0.5, 2, 4)
	nan.Data[3] = float32(math.NaN())
	for _, tc := range []struct {
		name string
		ts   map[string]tensor
		want string
	}{
		{"loha", map[string]tensor{mod + ".hada_w1_a": down, mod + ".hada_w1_b": up, mod + ".alpha": filled(1)}, "LoHa"},
		{"lokr", map[string]tensor{mod + ".lokr_w1": down, mod + ".lokr_w2": up}, "LoKr"},
		{"dora", map[string]tensor{mod + ".lora_down.weight": down, mod + ".lora_up.weight": up, mod + ".dora_scale": filled(1, 3)}, "DoRA"},
		{"unknown keys", map[string]tensor{mod + ".lora_down.weight": down, mod + ".lora_up.weight": up, "model.diffusion_model.out.2.weight": up}, "model.diffusion_model.out.2.weight"},
		{"nan", map[string]tensor{mod + ".lora_down.weight": nan, mod + ".lora_up.weight": up}, "non-finite"},
		{"rank mismatch", map[string]tensor{mod + ".lora_down.weight": down, mod + ".lora_up.weight": filled(0.5, 3, 3)}, "no low-rank pair"},
		{"missing up", map[string]tensor{mod + ".lora_down.weight": down}, "no up"},
		{"3-D weight", map[string]tensor{mod + ".lora_down.weight": filled(1, 2, 2, 2), mod + ".lora_up.weight": up}, "not a 2-D or 4-D"},
		{"negative alpha", map[string]tensor{mod + ".lora_down.weight": down, mod + ".lora_up.weight": up, mod + ".alpha": filled(-1)}, "alpha"},
		{"mixed formats", map[string]tensor{mod + ".lora_down.weight": down, mod + ".lora_up.weight": up,
			"unet.x.lora_A.weight": down, "unet.x.lora_B.weight": up}, "mixes"},
		{"empty", map[string]tensor{}, "no LoRA modules"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Open(write(t, "x.safetensors", tc.ts))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open = %v, %v; want an error with %q", f, err, tc.want)
			}
		})
	}
	dir := t.TempDir()
	for name, content := range map[string]string{
		"evil.ckpt": "\x80\x02c__builtin__\neval\n", "evil.pt": "PK\x03\x04", "x.txt": "hello",
		"short.safetensors": "\x10\x00", "huge-header.safetensors": "\xff\xff\xff\xff\xff\xff\xff\x7f{}",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if f, err := Open(path); err == nil {
			t.Errorf("%s: opened: %+v", name, f)
		}
	}
}
