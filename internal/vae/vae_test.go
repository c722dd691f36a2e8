package vae

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

const (
	modelDir    = "../../testdata/model-diffusers/vae/"
	fixturePath = "../../testdata/vae.safetensors"
	// The largest |Go - diffusers| accepted, about 5x the worst measured on
	// any kernel set (only the summation order differs).
	decodeTol       = 3e-5 // decoded images; measured 6.4e-6
	encodeTol       = 1e-5 // moments, mean, logvar, std; measured 2.2e-6
	intermediateTol = 5e-5 // block outputs of either; measured 1.0e-5
)

// readTensors loads every tensor of a safetensors file as float32.
func readTensors(t testing.TB, path string) map[string]*tensor.Tensor {
	t.Helper()
	src, err := refcheck.ReadTensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func readConfig(t testing.TB) Config {
	t.Helper()
	b, err := os.ReadFile(modelDir + "config.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

var (
	shared     sync.Once
	sharedVAE  *VAE
	sharedRefs map[string]*tensor.Tensor
)

// fixtures loads the tiny model and the reference tensors once for all tests.
func fixtures(t testing.TB) (*VAE, map[string]*tensor.Tensor) {
	t.Helper()
	shared.Do(func() {
		src := refcheck.Tensors(readTensors(t, modelDir+"diffusion_pytorch_model.safetensors"))
		v, err := Load(readConfig(t), weights.NewLoader(src))
		if err != nil {
			t.Fatal(err)
		}
		sharedVAE, sharedRefs = v, readTensors(t, fixturePath)
	})
	if sharedVAE == nil {
		t.Fatal("fixtures failed to load in an earlier test")
	}
	return sharedVAE, sharedRefs
}

// check compares each traced tensor with its reference under prefix.
func check(t *testing.T, prefix string, got map[string]*tensor.Tensor, refs map[string]*tensor.Tensor, names []string) {
	t.Helper()
	for _, n := range names {
		want, ok := refs[prefix+n]
		if !ok {
			t.Fatalf("fixture lacks %s%s", prefix, n)
		}
		g, ok := got[n]
		if !ok {
			t.Fatalf("%s was not produced", n)
		}
		if !tensor.SameShape(g.Shape, want.Shape) {
			t.Fatalf("%s%s: shape %v, want %v", prefix, n, g.Shape, want.Shape)
		}
		tol := encodeTol
		switch {
		case strings.HasPrefix(n, "intermediate."):
			tol = intermediateTol
		case strings.HasPrefix(prefix, "dec_"):
			tol = decodeTol
		}
		refcheck.Within(t, prefix+n, g.Data, want.Data, tol)
	}
}

func TestDecode(t *testing.T) {
	v, refs := fixtures(t)
	intermediates := []string{
		"intermediate.post_quant_conv", "intermediate.decoder.conv_in", "intermediate.decoder.mid_block",
		"intermediate.decoder.up_blocks.0", "intermediate.decoder.up_blocks.1",
		"intermediate.decoder.up_blocks.2", "intermediate.decoder.up_blocks.3",
	}
	for _, tc := range []struct {
		name  string
		check []string
	}{
		{"dec_8x8", append([]string{"out"}, intermediates...)},
		{"dec_8x12", []string{"out"}}, // non-square; the fixture has no intermediates
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.name + "."
			got := map[string]*tensor.Tensor{}
			got["out"] = v.decode(refs[p+"latents"], func(n string, x *tensor.Tensor) { got["intermediate."+n] = x })
			check(t, p, got, refs, tc.check)
		})
	}
}

// TestDecodeInputIsFloat32Division pins the first step of Decode: the
// reference decoder input is latents / 0.18215 in float32, bit for bit.
func TestDecodeInputIsFloat32Division(t *testing.T) {
	v, refs := fixtures(t)
	for _, name := range []string{"dec_8x8", "dec_8x12"} {
		lat, z := refs[name+".latents"], refs[name+".z"]
		s := float32(v.Config().ScalingFactor)
		for i, x := range lat.Data {
			if x/s != z.Data[i] {
				t.Fatalf("%s: z[%d] = %v, want %v / %v = %v", name, i, z.Data[i], x, s, x/s)
			}
		}
	}
}

func TestEncode(t *testing.T) {
	v, refs := fixtures(t)
	outputs := []string{"moments", "mean", "logvar", "std", "mean_scaled"}
	for _, tc := range []struct {
		name  string
		check []string
	}{
		{"enc_64x64", append(outputs,
			"intermediate.encoder.down_blocks.0", "intermediate.encoder.down_blocks.1",
			"intermediate.encoder.down_blocks.2", "intermediate.encoder.down_blocks.3",
			"intermediate.encoder.mid_block", "intermediate.encoder", "intermediate.quant_conv")},
		{"enc_64x96", outputs}, // non-square; the fixture has no intermediates
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.name + "."
			got := map[string]*tensor.Tensor{}
			mean, logvar, moments := v.encode(refs[p+"image"], func(n string, x *tensor.Tensor) { got["intermediate."+n] = x })
			got["moments"], got["mean"], got["logvar"] = moments, mean, logvar
			got["std"], got["mean_scaled"] = Std(logvar), v.Scale(mean)
			check(t, p, got, refs, tc.check)
		})
	}
}

func TestSample(t *testing.T) {
	mean := tensor.From([]float32{1, -2, 0.5}, 1, 3, 1, 1)
	logvar := tensor.From([]float32{0, float32(2 * math.Log(2)), -40}, 1, 3, 1, 1)
	got := Sample(mean, logvar, []float32{0.5, 1, 1e6})
	// std = 1, 2, exp(-20) (logvar is not clamped here: Encode already did).
	want := []float32{1.5, 0, 0.5 + float32(math.Exp(-20))*1e6}
	for i, w := range want {
		if math.Abs(float64(got.Data[i]-w)) > 1e-6 {
			t.Errorf("sample[%d] = %v, want %v", i, got.Data[i], w)
		}
	}
}

// TestLoadErrors checks that bad weights give an error naming the key, not a
// panic and not a half-built model.
func TestLoadErrors(t *testing.T) {
	full := readTensors(t, modelDir+"diffusion_pytorch_model.safetensors")
	cfg := readConfig(t)
	for _, tc := range []struct {
		name string
		key  string
		edit func(m refcheck.Tensors, key string)
	}{
		{"missing shortcut", "decoder.up_blocks.2.resnets.0.conv_shortcut.weight",
			func(m refcheck.Tensors, k string) { delete(m, k) }},
		{"missing attention", "encoder.mid_block.attentions.0.to_v.bias",
			func(m refcheck.Tensors, k string) { delete(m, k) }},
		{"missing quant_conv", "quant_conv.weight",
			func(m refcheck.Tensors, k string) { delete(m, k) }},
		{"wrong shape conv", "encoder.down_blocks.1.downsamplers.0.conv.weight",
			func(m refcheck.Tensors, k string) { m[k] = tensor.New(32, 32, 1, 1) }},
		{"single-file 1x1 attention", "decoder.mid_block.attentions.0.to_q.weight",
			func(m refcheck.Tensors, k string) { m[k] = tensor.New(64, 64, 1, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := refcheck.Tensors{}
			for k, x := range full {
				m[k] = x
			}
			tc.edit(m, tc.key)
			v, err := Load(cfg, weights.NewLoader(m))
			if err == nil || v != nil {
				t.Fatalf("Load = %v, %v; want nil and an error", v, err)
			}
			if !strings.HasPrefix(err.Error(), "vae: ") || !strings.Contains(err.Error(), `"`+tc.key+`"`) {
				t.Errorf("error %q does not name %q", err, tc.key)
			}
		})
	}
}

// BenchmarkDecode decodes a 32x32 latent (256x256 pixels) with the tiny model.
func BenchmarkDecode(b *testing.B) {
	v, _ := fixtures(b)
	lat := tensor.New(1, 4, 32, 32)
	for i := range lat.Data {
		lat.Data[i] = float32(math.Sin(float64(i))) * 0.2
	}
	for b.Loop() {
		v.Decode(lat)
	}
}

// TestBatch checks that each item of a batch is computed exactly as alone
// (the pipeline decodes and encodes several images at once).
func TestBatch(t *testing.T) {
	v, refs := fixtures(t)
	stack := func(a, b *tensor.Tensor) *tensor.Tensor {
		shape := append([]int{2}, a.Shape[1:]...)
		return tensor.From(append(append([]float32(nil), a.Data...), b.Data...), shape...)
	}
	same := func(name string, batch, a, b *tensor.Tensor) {
		t.Helper()
		half := batch.Numel() / 2
		for i, want := range append(append([]float32(nil), a.Data...), b.Data...) {
			if batch.Data[i] != want {
				t.Fatalf("%s: item %d differs at %d: %v vs %v", name, i/half, i%half, batch.Data[i], want)
			}
		}
	}
	l0, l1 := refs["dec_8x8.latents"], v.Scale(refs["dec_8x8.z"]) // two different inputs
	same("decode", v.Decode(stack(l0, l1)), v.Decode(l0), v.Decode(l1))

	img := refs["enc_64x64.image"]
	flipped := tensor.New(img.Shape...)
	for i, x := range img.Data {
		flipped.Data[i] = -x
	}
	m, lv := v.Encode(stack(img, flipped))
	m0, lv0 := v.Encode(img)
	m1, lv1 := v.Encode(flipped)
	same("encode mean", m, m0, m1)
	same("encode logvar", lv, lv0, lv1)
}
