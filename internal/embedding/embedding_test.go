package embedding

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/safetensors/sttest"
)

// write writes F32 tensors (name -> shape, all values v) as a safetensors file.
func write(t *testing.T, name string, shapes map[string][]int, v float32) string {
	t.Helper()
	ts := map[string]sttest.Tensor{}
	for k, shape := range shapes {
		ts[k] = sttest.Filled(v, shape...)
	}
	path := filepath.Join(t.TempDir(), name)
	sttest.WriteF32(t, path, ts)
	return path
}

func TestOpenAndFit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shapes map[string][]int
		widths []int
		fits   string // "" or the error's words
		count  int
	}{
		{"a1111", map[string][]int{"emb_params": {2, 768}}, []int{768}, "", 2},
		{"one vector", map[string][]int{"emb_params": {768}}, []int{768}, "", 1},
		{"other single key", map[string][]int{"*": {3, 1024}}, []int{1024}, "", 3},
		{"sd1 on sd2", map[string][]int{"emb_params": {2, 768}}, []int{1024}, "one-encoder embedding 768 wide; the model has a text encoder 1024 wide", 2},
		{"sdxl", map[string][]int{"clip_l": {2, 768}, "clip_g": {2, 1280}}, []int{768, 1280}, "", 2},
		{"sdxl on sd1", map[string][]int{"clip_l": {2, 768}, "clip_g": {2, 1280}}, []int{768}, "SDXL embedding (clip_l 768 wide, clip_g 1280 wide)", 2},
		{"sd1 on sdxl", map[string][]int{"emb_params": {2, 768}}, []int{768, 1280}, "text encoders 768 and 1280 wide (SDXL)", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Open(write(t, "x.safetensors", tc.shapes, 0.5))
			if err != nil {
				t.Fatal(err)
			}
			if f.Count() != tc.count || len(f.Hash) != 12 || f.Name != "x" {
				t.Errorf("count %d hash %q name %q", f.Count(), f.Hash, f.Name)
			}
			vs, err := f.For(tc.widths)
			switch {
			case tc.fits == "" && (err != nil || len(vs) != len(tc.widths)):
				t.Errorf("For(%v) = %v, %v", tc.widths, vs, err)
			case tc.fits != "" && (err == nil || !strings.Contains(err.Error(), tc.fits)):
				t.Errorf("For(%v) error %v, want %q", tc.widths, err, tc.fits)
			}
		})
	}
}

func TestHostileFiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shapes map[string][]int
		v      float32
		want   string
	}{
		{"nan", map[string][]int{"emb_params": {2, 8}}, float32(math.NaN()), "non-finite"},
		{"inf", map[string][]int{"emb_params": {2, 8}}, float32(math.Inf(1)), "non-finite"},
		{"too many vectors", map[string][]int{"emb_params": {76, 8}}, 1, "vectors (1 to 75)"},
		{"3-D", map[string][]int{"emb_params": {1, 2, 8}}, 1, "shape"},
		{"a LoRA", map[string][]int{"a.lora_down.weight": {2, 8}, "a.lora_up.weight": {8, 2}}, 1, "an embedding has one"},
		{"clip_l only and another", map[string][]int{"clip_l": {2, 8}, "x": {2, 12}}, 1, "an embedding has one"},
		{"clip_l and clip_g disagree", map[string][]int{"clip_l": {2, 8}, "clip_g": {3, 12}}, 1, "clip_l has 2 vectors and clip_g 3"},
		{"empty", map[string][]int{}, 1, "no tensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f, err := Open(write(t, "x.safetensors", tc.shapes, tc.v)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open = %+v, %v; want an error with %q", f, err, tc.want)
			}
		})
	}
	dir := t.TempDir()
	for _, name := range []string{"evil.pt", "evil.bin", "x.txt"} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte("\x80\x02c__builtin__\neval\n"), 0o644)
		if _, err := Open(path); err == nil {
			t.Errorf("%s opened", name)
		}
	}
}
