package model

import (
	"os"
	"reflect"
	"slices"
	"testing"
)

// A folder read through fs.FS (how the built-in model is read from the
// binary) must give exactly what the same folder gives from disk.
func TestLoadFSMatchesFolder(t *testing.T) {
	disk, err := Load(diffusersIn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	mem, err := LoadFS(os.DirFS(diffusersIn), "tiny")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if !reflect.DeepEqual(disk.UNet, mem.UNet) || !reflect.DeepEqual(disk.VAE, mem.VAE) || !reflect.DeepEqual(disk.TextEncoders[0].Config, mem.TextEncoders[0].Config) ||
		disk.TextEncoders[0].PadID != mem.TextEncoders[0].PadID || string(disk.Scheduler) != string(mem.Scheduler) {
		t.Fatal("configs differ between the disk folder and the same folder through fs.FS")
	}
	for _, pair := range [][2]*Component{
		{disk.UNetWeights.(*Component), mem.UNetWeights.(*Component)},
		{disk.VAEWeights.(*Component), mem.VAEWeights.(*Component)},
		{disk.TextEncoders[0].Weights.(*Component), mem.TextEncoders[0].Weights.(*Component)},
	} {
		if !slices.Equal(pair[0].Names(), pair[1].Names()) {
			t.Fatal("tensor names differ")
		}
		for _, n := range pair[0].Names() {
			a, err1 := pair[0].Float32(n)
			b, err2 := pair[1].Float32(n)
			if err1 != nil || err2 != nil || !slices.Equal(a, b) {
				t.Fatalf("%s differs (%v, %v)", n, err1, err2)
			}
		}
	}
	h1, err1 := disk.Hash()
	h2, err2 := mem.Hash()
	if err1 != nil || err2 != nil || h1 != h2 {
		t.Errorf("model hash %q (%v) from disk, %q (%v) through fs.FS", h1, err1, h2, err2)
	}
}

func TestBuiltinLoads(t *testing.T) {
	m, err := Load(Builtin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Name != "builtin" || m.Family != SD1 || m.VAE.SampleSize != 128 {
		t.Errorf("built-in model: name %q, family %s, VAE sample size %d", m.Name, m.Family.Name, m.VAE.SampleSize)
	}
	r, err := Inspect(Builtin)
	if err != nil || r.Problem != "" {
		t.Errorf("inspect builtin: %v %q", err, r.Problem)
	}
}
