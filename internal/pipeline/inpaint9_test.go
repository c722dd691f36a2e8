package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/safetensors/sttest"
	"github.com/imggen/imggen/internal/torchrng"
	"github.com/imggen/imggen/internal/vae"
)

// There is no 9-channel reference fixture, so the inpainting-model path is
// tested by construction: the tiny SD 1.x fixture model with conv_in widened
// to 9 input channels. With zero weights on the 5 new channels it must give
// exactly what the plain model gives in the runs that diffusers' inpaint
// pipeline makes equal (same draws, no blending); with other weights, the
// U-Net must see the mask and the masked image's latents in diffusers' order.

// inpaintModel writes the fixture folder with a 9-channel U-Net whose extra
// conv_in weights come from extra (nil: zeros) and returns its path.
func inpaintModel(t *testing.T, extra func() float32) string {
	t.Helper()
	src := "../../testdata/model-diffusers"
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	// config.json: in_channels 9.
	cfgPath := filepath.Join(dst, "unet", "config.json")
	var cfg map[string]any
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["in_channels"] = 9
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}

	// Weights: conv_in.weight [C, 4, 3, 3] -> [C, 9, 3, 3].
	wPath := filepath.Join(dst, "unet", "diffusion_pytorch_model.safetensors")
	f, err := safetensors.Open(wPath)
	if err != nil {
		t.Fatal(err)
	}
	tensors := map[string][]float32{}
	shapes := map[string][]int{}
	for _, name := range f.Names() {
		v, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		in, _ := f.Info(name)
		tensors[name], shapes[name] = v, in.Shape
	}
	f.Close()
	old, shape := tensors["conv_in.weight"], shapes["conv_in.weight"]
	cout, k := shape[0], shape[2]*shape[3]
	wide := make([]float32, cout*9*k)
	for o := 0; o < cout; o++ {
		copy(wide[o*9*k:], old[o*4*k:(o+1)*4*k])
		if extra != nil {
			for i := 4 * k; i < 9*k; i++ {
				wide[o*9*k+i] = extra()
			}
		}
	}
	tensors["conv_in.weight"], shapes["conv_in.weight"] = wide, []int{cout, 9, shape[2], shape[3]}
	writeF32Safetensors(t, wPath, tensors, shapes)
	return dst
}

func writeF32Safetensors(t *testing.T, path string, tensors map[string][]float32, shapes map[string][]int) {
	t.Helper()
	ts := map[string]sttest.Tensor{}
	for n, d := range tensors {
		ts[n] = sttest.Tensor{Shape: shapes[n], Data: d}
	}
	sttest.WriteF32(t, path, ts)
}

func generate(t *testing.T, p *Pipeline, req Request, tr *Trace) []byte {
	t.Helper()
	img, err := p.GenerateTrace(context.Background(), req, nil, tr)
	if err != nil {
		t.Fatal(err)
	}
	return img.Pix
}

func TestInpaintModelWithZeroExtraWeightsIsThePlainModel(t *testing.T) {
	plain := loadPipeline(t, "../../testdata/model-diffusers")
	nine := loadPipeline(t, inpaintModel(t, nil))
	if !nine.inpaintModel() || plain.inpaintModel() {
		t.Fatal("inpaintModel() does not tell the 9-channel U-Net from the plain one")
	}
	initImg := loadImageTensor(t, "img2img_init.png", false)
	mask := loadImageTensor(t, "inpaint_mask.png", true)
	base := Request{Prompt: "a bright yellow flower", Width: 128, Height: 128, Steps: 10, CFGScale: 7.5,
		Sampler: "ddim", Schedule: "default", ClipSkip: 1, Seed: 77}
	with := func(f func(*Request)) Request { r := base; f(&r); return r }
	tests := []struct {
		name        string
		nine, plain Request
	}{
		// Text to image: the same single draw.
		{"txt2img", base, base},
		// Strength < 1: posterior sample, noise (then the masked image's
		// draw, after everything DDIM uses) = img2img's draws.
		{"inpaint s0.6 = img2img s0.6", with(func(r *Request) { r.InitImage, r.Mask, r.Strength = initImg, mask, 0.6 }),
			with(func(r *Request) { r.InitImage, r.Strength = initImg, 0.6 })},
		// Full strength: pure noise first, no posterior sample = txt2img.
		{"inpaint s1.0 = txt2img", with(func(r *Request) { r.InitImage, r.Mask, r.Strength = initImg, mask, 1 }), base},
		// No mask on an inpainting model: repaint everything.
		{"img2img s0.6 = img2img s0.6", with(func(r *Request) { r.InitImage, r.Strength = initImg, 0.6 }),
			with(func(r *Request) { r.InitImage, r.Strength = initImg, 0.6 })},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, i == 0)
			got, want := generate(t, nine, tc.nine, nil), generate(t, plain, tc.plain, nil)
			if !bytes.Equal(got, want) {
				t.Error("the 9-channel model with zero extra weights differs from the plain model")
			}
		})
	}
}

func TestInpaintModelSeesMaskAndMaskedImage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := inpaintModel(t, func() float32 { return float32(rng.NormFloat64() * 0.2) })
	nine := loadPipeline(t, dir)
	zero := loadPipeline(t, inpaintModel(t, nil))
	initImg := loadImageTensor(t, "img2img_init.png", false)
	mask := loadImageTensor(t, "inpaint_mask.png", true)
	req := Request{Prompt: "a bright yellow flower", Width: 128, Height: 128, Steps: 10, CFGScale: 7.5,
		Sampler: "ddim", Schedule: "default", ClipSkip: 1, Seed: 5, InitImage: initImg, Mask: mask, Strength: 0.6}

	var cond []float32
	got := generate(t, nine, req, &Trace{InpaintCondition: func(c []float32) { cond = slices.Clone(c) }})
	if bytes.Equal(got, generate(t, zero, req, nil)) {
		t.Fatal("the extra input channels have no effect")
	}

	// What diffusers' inpaint pipeline gives the U-Net: the binarised mask at
	// latent size, then scaling_factor x a posterior sample of the image with
	// the masked part blanked, drawn third (after the init image's posterior
	// sample and the noise).
	h, w := 16, 16
	n := 4 * h * w
	wantMask := maskLatent(mask, h, w)
	masked := initImg.Clone()
	for c := 0; c < 3; c++ {
		for i, m := range mask.Data {
			if m >= 0.5 {
				masked.Data[c*h*8*w*8+i] = 0
			}
		}
	}
	g := torchrng.New(5)
	g.Normal(n)
	g.Normal(n)
	mean, logvar := nine.VAE().Encode(masked)
	wantLatents := nine.VAE().Scale(vae.Sample(mean, logvar, g.Normal(n))).Data
	if len(cond) != h*w+n {
		t.Fatalf("condition has %d values, want %d", len(cond), h*w+n)
	}
	if !slices.Equal(cond[:h*w], wantMask) {
		t.Error("the mask channel is not the latent-size binarised mask")
	}
	if !slices.Equal(cond[h*w:], wantLatents) {
		t.Error("the masked-image channels are not the third draw's posterior sample of the masked image")
	}
	var ones int
	for _, m := range wantMask {
		if m == 1 {
			ones++
		}
	}
	if ones == 0 || ones == len(wantMask) {
		t.Fatalf("the fixture mask covers %d of %d latent pixels: the test needs a partial mask", ones, len(wantMask))
	}
}

// TestInpaintModelLoads checks that such a folder is detected for what it is.
func TestInpaintModelLoads(t *testing.T) {
	m, err := model.Load(inpaintModel(t, nil), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.UNet.InChannels != 9 {
		t.Errorf("in_channels %d, want 9", m.UNet.InChannels)
	}
}
