package pipeline

import (
	"slices"
	"testing"
	"time"

	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
)

func openLCMFixture(t *testing.T, name string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open("../../testdata/lcm/" + name + ".safetensors")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestLCMReferenceRuns follows the LCM runs of testdata/lcm (LCMScheduler
// with the sd1-tiny model: 4 steps without guidance, 8 steps with guidance
// 1.5 and a negative prompt at 128x96) stage by stage, and the img2img run
// (6 steps at strength 0.5: the last 3 of the 6-step schedule).
func TestLCMReferenceRuns(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-diffusers")
	base := Request{Prompt: "sunset, oil painting", Width: 128, Height: 128, Sampler: "lcm", Schedule: "default", ClipSkip: 1}
	with := func(f func(*Request)) Request { r := base; f(&r); return r }
	for _, rr := range []run{
		{"e2e_lcm4_cfg1", with(func(r *Request) { r.Steps, r.CFGScale, r.Seed = 4, 1, 11 }), true, true},
		{"e2e_lcm8_cfg1.5_w128h96", with(func(r *Request) {
			r.Steps, r.CFGScale, r.Seed, r.Height, r.NegativePrompt = 8, 1.5, 12, 96, "blurry"
		}), true, false},
		// LCM-LoRA's way: a LoRA at strength 1 with the LCM sampler.
		{"e2e_lcmlora_lcm4_cfg1", with(func(r *Request) {
			r.Steps, r.CFGScale, r.Seed = 4, 1, 11
			r.LoRAs = []LoRA{{openLoRA(t, loraDir+"/sd1-tiny-lora.safetensors"), 1}}
		}), true, false},
	} {
		t.Run(rr.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, rr.portable)
			checkReferenceRun(t, p, "../../testdata/lcm", rr)
		})
	}
	t.Run("e2e_img2img_lcm6_s0.5_cfg1", func(t *testing.T) {
		f := openLCMFixture(t, "e2e_img2img_lcm6_s0.5_cfg1")
		req := with(func(r *Request) {
			r.Prompt, r.Steps, r.CFGScale, r.Seed, r.Strength = "a watercolor landscape with a red sun over hills", 6, 1, 13, 0.5
			r.InitImage = loadImageTensor(t, "img2img_init.png", false)
		})
		var steps [][]float32
		var ts []float64
		tr := &Trace{
			InitLatents: func(init, _ []float32) {
				refcheck.Within(t, "init latents", init, fixtureTensor(t, f, "init_latents"), initLatentTol)
			},
			Step: func(_ int, _, x []float32) { steps = append(steps, slices.Clone(x)) },
		}
		tr.UNetOutput = func(_ int, t float64, _ *tensor.Tensor, _ time.Duration) { ts = append(ts, t) }
		img, err := p.GenerateTrace(t.Context(), req, nil, tr)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ts, []float64{499, 339, 179}) {
			t.Errorf("timesteps %v, want [499 339 179]", ts)
		}
		checkStepsTol(t, "latents", steps, fixtureTensor(t, f, "latents_after_step"), wholeRunStepTol)
		refcheck.ImageWithin(t, img, "../../testdata/lcm/e2e_img2img_lcm6_s0.5_cfg1.png", pngMaxLevel, imagePNGFraction)
	})
}
