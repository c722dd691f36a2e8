package pipeline

import (
	"context"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
)

// SD 2.x reference runs (testdata/sd2, the sd2-tiny fixtures: v-prediction,
// OpenCLIP text tower padded with id 0, linear projections, head size 8),
// through the diffusers folder and the single file + yaml.

const sd2Cabin = "a cozy wooden cabin in a snowy pine forest at night, warm light in the windows"

func sd2Runs() []run {
	base := Request{Width: 128, Height: 128, Schedule: "default", ClipSkip: 1}
	with := func(f func(*Request)) Request { r := base; f(&r); return r }
	return []run{
		{"e2e_ddim12_cfg6", with(func(r *Request) {
			r.Prompt, r.NegativePrompt = sd2Cabin, "lowres, jpeg artifacts, watermark"
			r.Sampler, r.Steps, r.CFGScale, r.Seed = "ddim", 12, 6, 31
		}), true},
		{"e2e_eulera15_cfg6", with(func(r *Request) {
			r.Prompt = "Macro photo of a DEWDROP on a leaf, 100mm, f/2.8"
			r.Sampler, r.Steps, r.CFGScale, r.Seed = "euler_a", 15, 6, 2718
		}), true},
		{"e2e_dpmpp2mkarras12_cfg5_w128h112", with(func(r *Request) {
			r.Prompt, r.NegativePrompt = sd2Cabin, "blurry, overexposed"
			r.Sampler, r.Schedule, r.Steps, r.CFGScale, r.Seed, r.Height = "dpmpp_2m", "karras", 12, 5, 90210, 112
		}), true},
	}
}

func TestSD2ReferenceRuns(t *testing.T) {
	for _, layout := range []struct{ name, path string }{
		{"folder", "../../testdata/sd2/model"},
		{"single_file", "../../testdata/sd2/sd2-tiny.fp16.safetensors"},
	} {
		p := loadPipeline(t, layout.path)
		for _, rr := range sd2Runs() {
			t.Run(layout.name+"/"+rr.name, func(t *testing.T) {
				f, err := safetensors.Open("../../testdata/sd2/" + rr.name + ".safetensors")
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
							d := maxAbsDiff(ctx.Data[row*n:(row+1)*n], w)
							t.Logf("context row %d: max abs diff %.3g", row, d)
							if d > contextTol {
								t.Errorf("context row %d: max abs diff %.3g > %g", row, d, contextTol)
							}
						}
					},
					InitialLatent: func(x []float32) {
						want := fixtureTensor(t, f, "initial_latents")
						if d := maxAbsDiff(x, want); d != 0 {
							t.Errorf("initial latents differ from torch's draw by %.3g", d)
						}
					},
					Step:    func(i int, _, x []float32) { steps = append(steps, append([]float32(nil), x...)) },
					Decoded: func(img *tensor.Tensor) { decoded = img },
				}
				img, err := p.GenerateTrace(context.Background(), rr.req, nil, tr)
				if err != nil {
					t.Fatal(err)
				}
				want := fixtureTensor(t, f, "latents_after_step")
				n := len(steps[0])
				if len(want) != n*len(steps) {
					t.Fatalf("%d steps, reference has %d", len(steps), len(want)/n)
				}
				var worst float64
				for i, x := range steps {
					ref := want[i*n : (i+1)*n]
					worst = max(worst, maxAbsDiff(x, ref)/maxAbs(ref))
				}
				t.Logf("latents: max relative diff over all steps %.3g", worst)
				if worst > latentRelTol {
					t.Errorf("latents: max relative diff %.3g > %g", worst, latentRelTol)
				}
				t.Logf("decoded: max abs diff %.3g", maxAbsDiff(decoded.Data, fixtureTensor(t, f, "decoded")))
				ref, err := pngout.Load("../../testdata/sd2/" + rr.name + ".png")
				if err != nil {
					t.Fatal(err)
				}
				diff, err := pngout.Compare(img, ref)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("png: max level diff %d, %d of %d pixels differ (%.3f%%)", diff.MaxLevel, diff.PixelsDiffering, diff.Pixels, 100*diff.Fraction())
				if diff.MaxLevel > pngMaxLevel || diff.Fraction() > pngMaxFraction {
					t.Errorf("png differs: max level %d, %.3f%% of pixels", diff.MaxLevel, 100*diff.Fraction())
				}
			})
		}
	}
}
