package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"slices"
	"sync"
	"testing"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// Tolerances of the seeded reference runs against diffusers, each about 5x
// the worst error measured on either kernel set (assembly, portable) over
// the SD 1.x and SD 2.x runs; the measured value is beside each.
const (
	contextTol   = 1e-5 // text context, absolute; measured 2.1e-6
	latentRelTol = 1e-5 // each step's latents, relative to max|reference|; measured 2.2e-6
	decodedTol   = 5e-5 // decoded image in [-1, 1], absolute; measured 1.1e-5
	// The PNG against diffusers' PNG: at most 1 level off (measured 1) in
	// at most 0.2% of pixels (measured 0.043% for SD 1.x, 0.021% for SD
	// 2.x; img2img: imagePNGFraction).
	pngMaxLevel    = 1
	pngMaxFraction = 0.002
)

// Run describes one seeded reference run of testdata/e2e.
type run struct {
	name     string
	req      Request
	hasSteps bool // the fixture records every step (not only the embeddings)
	portable bool // also run in the portable build (-tags purego)
}

func referenceRuns() []run {
	base := Request{Prompt: "sunset, oil painting", Width: 128, Height: 128, CFGScale: 7.5, Schedule: "default", ClipSkip: 1}
	with := func(f func(*Request)) Request { r := base; f(&r); return r }
	return []run{
		{"e2e_ddim10_cfg7.5", with(func(r *Request) { r.Sampler, r.Steps, r.Seed = "ddim", 10, 42 }), true, true},
		{"e2e_ddim10_cfg1", with(func(r *Request) { r.Sampler, r.Steps, r.Seed, r.CFGScale = "ddim", 10, 42, 1 }), true, false},
		{"e2e_pndm20_cfg7.5", with(func(r *Request) { r.Sampler, r.Steps, r.Seed = "pndm", 20, 7 }), true, true},
		{"e2e_eulera20_cfg7.5", with(func(r *Request) { r.Sampler, r.Steps, r.Seed = "euler_a", 20, 123 }), true, true},
		{"e2e_dpmpp2mkarras15_cfg5_w128h96", with(func(r *Request) {
			r.Sampler, r.Schedule, r.Steps, r.Seed, r.CFGScale, r.Height = "dpmpp_2m", "karras", 15, 2024, 5, 96
			r.NegativePrompt = "blurry, low quality"
		}), true, true},
		{"e2e_ddpm25_cfg7.5", with(func(r *Request) { r.Sampler, r.Steps, r.Seed = "ddpm", 25, 5 }), true, true},
		{"e2e_euler20_cfg7.5_clipskip2_both", with(func(r *Request) { r.Sampler, r.Steps, r.Seed, r.ClipSkip = "euler", 20, 99, 2 }), false, true},
	}
}

func loadPipeline(t testing.TB, path string) *Pipeline {
	t.Helper()
	m, err := model.Load(path, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	p, err := New(m, Options{ReleaseWeights: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fixtureTensor(t testing.TB, f *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestReferenceRuns follows every seeded reference run stage by stage:
// text context, initial latents (bit-exact torch draws), each step's
// latents, the decoded image and the PNG. The portable build runs one of
// each sampler family (ddim, pndm, euler_a, dpmpp_2m, ddpm, euler).
func TestReferenceRuns(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-diffusers")
	runs := referenceRuns()
	refcheck.NotEmpty(t, "reference runs", len(runs))
	for _, rr := range runs {
		t.Run(rr.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, rr.portable)
			checkReferenceRun(t, p, "../../testdata/e2e", rr)
		})
	}
}

// checkReferenceRun runs rr and compares it with the recording in dir:
// text context, initial latents (bit-exact torch draws), each step's
// latents, the decoded image and the PNG.
func checkReferenceRun(t *testing.T, p *Pipeline, dir string, rr run) {
	f, err := safetensors.Open(dir + "/" + rr.name + ".safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps [][]float32
	var decoded *tensor.Tensor
	tr := &Trace{
		Context: func(ctx *tensor.Tensor) {
			n := ctx.Numel() / ctx.Shape[0]
			want := [][]float32{fixtureTensor(t, f, "prompt_embeds")}
			if ctx.Shape[0] == 2 {
				want = [][]float32{fixtureTensor(t, f, "negative_prompt_embeds"), want[0]}
			}
			for row, w := range want {
				refcheck.Within(t, fmt.Sprintf("context row %d", row), ctx.Data[row*n:(row+1)*n], w, contextTol)
			}
		},
		InitialLatent: func(x []float32) {
			if !rr.hasSteps {
				return
			}
			refcheck.Bitwise(t, "initial latents against torch's draw", x, fixtureTensor(t, f, "initial_latents"))
		},
		Step:    func(i int, _, x []float32) { steps = append(steps, append([]float32(nil), x...)) },
		Decoded: func(img *tensor.Tensor) { decoded = img },
	}
	img, err := p.GenerateTrace(context.Background(), rr.req, nil, tr)
	if err != nil {
		t.Fatal(err)
	}
	if rr.hasSteps {
		checkSteps(t, "latents", steps, fixtureTensor(t, f, "latents_after_step"))
		refcheck.Within(t, "decoded image", decoded.Data, fixtureTensor(t, f, "decoded"), decodedTol)
	}
	refcheck.ImageWithin(t, img, dir+"/"+rr.name+".png", pngMaxLevel, pngMaxFraction)
}

// checkSteps holds every step's latents to latentRelTol relative to the
// largest magnitude of that step's reference.
func checkSteps(t *testing.T, what string, steps [][]float32, want []float32) {
	t.Helper()
	checkStepsTol(t, what, steps, want, latentRelTol)
}

func checkStepsTol(t *testing.T, what string, steps [][]float32, want []float32, tol float64) {
	t.Helper()
	refcheck.NotEmpty(t, what+": steps", len(steps))
	n := len(steps[0])
	if len(want) != n*len(steps) {
		t.Fatalf("%s: %d steps, reference has %d", what, len(steps), len(want)/n)
	}
	var worst float64
	for i, x := range steps {
		worst = max(worst, refcheck.RelDiff(t, what, x, want[i*n:(i+1)*n]))
	}
	refcheck.Check(t, fmt.Sprintf("%s max relative diff over %d steps", what, len(steps)), worst, tol)
}

// TestSameBitsAnyThreadCount: golden-image users need identical output
// whatever --threads says. The tiny model's products are far below the size
// worth a second goroutine, so the test hook splits every loop and product
// that can be split: each product of more than one tile runs 2, 3 or 7 ways.
// Text to image with guidance, and img2img (the VAE encoder too).
func TestSameBitsAnyThreadCount(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-fp16/sd1-tiny.fp16.safetensors")
	txt := Request{Prompt: "a red boat", NegativePrompt: "blurry", Width: 64, Height: 48, Steps: 3, CFGScale: 6,
		Sampler: "euler_a", Schedule: "default", Seed: 11}
	img := txt
	img.Sampler, img.Strength, img.Width, img.Height = "ddim", 0.7, 128, 128
	img.InitImage = loadImageTensor(t, "img2img_init.png", false)
	defer nn.SetThreads(nn.Threads())
	defer nn.SplitAllWork()()
	for _, req := range []Request{txt, img} {
		var ref *image.RGBA
		for _, threads := range []int{1, 2, 3, 7} {
			nn.SetThreads(threads)
			before := gemm.ReadStats()
			got, err := p.Generate(context.Background(), req, nil)
			if err != nil {
				t.Fatal(err)
			}
			st := gemm.ReadStats().Sub(before)
			unsplit := st.Products - st.Split - st.OneTile - st.OneAsked
			t.Logf("%s, %d threads: %d products: %d split, %d of one tile, %d asked for one goroutine (attention splits by heads)",
				req.Sampler, threads, st.Products, st.Split, st.OneTile, st.OneAsked)
			if threads > 1 && (unsplit != 0 || st.Split == 0) {
				t.Errorf("%d threads: %d products that could be split were not (%d split)", threads, unsplit, st.Split)
			}
			if ref == nil {
				ref = got
			} else if !bytes.Equal(got.Pix, ref.Pix) {
				t.Errorf("%s: %d threads gave different pixels than 1 thread", req.Sampler, threads)
			}
		}
	}
}

func TestGenerateStopsWhenCancelled(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-fp16/sd1-tiny.fp16.safetensors")
	ctx, cancel := context.WithCancel(context.Background())
	req := Request{Prompt: "x", Width: 64, Height: 64, Steps: 5, CFGScale: 7.5, Sampler: "ddim", Schedule: "default"}
	steps := 0
	_, err := p.Generate(ctx, req, func(step, total int) {
		steps = step
		if step == 2 {
			cancel()
		}
	})
	if err != context.Canceled || steps != 2 {
		t.Fatalf("err %v after %d steps, want context.Canceled after 2", err, steps)
	}
}

// TestConcurrentGenerate: the concurrency contract of the package doc. One
// Pipeline serves several Generate calls at once, and each gives the bits it
// gives alone (go test -race finds no race here either).
func TestConcurrentGenerate(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-fp16/sd1-tiny.fp16.safetensors")
	req := func(i int) Request {
		// Precisions differ too: the precision is process wide, and each
		// call must still get its own (nn.UsePrecision).
		return Request{Prompt: "a red boat", NegativePrompt: "blurry", Width: 64, Height: 48, Steps: 3, CFGScale: 6,
			Sampler: []string{"euler_a", "ddim", "dpmpp_2m"}[i], Schedule: "default", Seed: int64(10 + i),
			Precision: []string{"", "bf16", "fp32"}[i]}
	}
	const n = 3
	alone := make([][]byte, n)
	for i := range n {
		img, err := p.Generate(context.Background(), req(i), nil)
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = img.Pix
	}
	together := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			img, err := p.Generate(context.Background(), req(i), nil)
			if errs[i] = err; err == nil {
				together[i] = img.Pix
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(alone[i], together[i]) {
			t.Errorf("call %d gave other pixels while the others ran", i)
		}
	}
}

// scaled wraps a weight source and scales one tensor: what a LoRA merged
// into a matrix does. It forwards nothing else, so every other tensor is
// read through Float32 (widened copies) instead of views.
type scaled struct {
	weights.Source
	name  string
	scale float32
}

func (s scaled) Float32(name string) ([]float32, error) {
	v, err := s.Source.Float32(name)
	if err != nil || name != s.name {
		return v, err
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * s.scale
	}
	return out, nil
}

// TestWeightsHook: Options.Weights sees every component and its wrappers'
// weights are the ones the networks use.
func TestWeightsHook(t *testing.T) {
	m, err := model.Load("../../testdata/model-fp16/sd1-tiny.fp16.safetensors", model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	req := Request{Prompt: "a red boat", Width: 64, Height: 64, Steps: 2, CFGScale: 6, Sampler: "ddim", Schedule: "default", Seed: 3}
	gen := func(opts Options) []byte {
		t.Helper()
		p, err := New(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		img, err := p.Generate(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		return img.Pix
	}
	plain := gen(Options{})
	var seen []string
	same := gen(Options{Weights: func(c string, src weights.Source) weights.Source {
		seen = append(seen, c)
		return scaled{src, "", 1} // a wrapper that changes nothing, hiding the views
	}})
	if !slices.Equal(seen, []string{"text_encoder", "unet", "vae"}) {
		t.Errorf("wrapped %v", seen)
	}
	if !bytes.Equal(plain, same) {
		t.Error("a wrapper that changes no weight changed the picture")
	}
	changed := gen(Options{Weights: func(c string, src weights.Source) weights.Source {
		if c == "unet" {
			return scaled{src, "conv_out.weight", 0.5}
		}
		return src
	}})
	if bytes.Equal(plain, changed) {
		t.Error("the U-Net's wrapped weights were not used")
	}
}
