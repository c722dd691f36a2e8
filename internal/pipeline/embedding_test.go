package pipeline

import (
	"testing"

	"github.com/imggen/imggen/internal/embedding"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
)

// loadWithEmbedding loads the model at path with one embedding called token.
func loadWithEmbedding(t *testing.T, path, file, token string) *Pipeline {
	t.Helper()
	m, err := model.Load(path, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	f, err := embedding.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(m, Options{ReleaseWeights: true, Embeddings: []Embedding{{token, f}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEmbeddingReferenceRuns: the sd1-tiny-lora textual-inversion runs
// (a 2-vector embedding alone, and with the LoRA at strength 1, DPM++ 2M
// Karras with a negative prompt) stage by stage.
func TestEmbeddingReferenceRuns(t *testing.T) {
	p := loadWithEmbedding(t, "../../testdata/model-diffusers", loraDir+"/tiny-emb.safetensors", "<tiny-emb>")
	lf := openLoRA(t, loraDir+"/sd1-tiny-lora.safetensors")
	for _, rr := range []run{
		{"e2e_ti_eulera15_cfg7.5", Request{Prompt: "a <tiny-emb> sunset, oil painting", NegativeGiven: true, Width: 128, Height: 128,
			Sampler: "euler_a", Schedule: "default", Steps: 15, CFGScale: 7.5, Seed: 1234, ClipSkip: 1}, true, true},
		{"e2e_lora_s1.0_ti_dpmpp2mkarras12_cfg6", Request{Prompt: "a <tiny-emb> sunset, oil painting", NegativePrompt: "blurry",
			Width: 128, Height: 128, Sampler: "dpmpp_2m", Schedule: "karras", Steps: 12, CFGScale: 6, Seed: 77, ClipSkip: 1,
			LoRAs: []LoRA{{lf, 1}}}, true, false},
		// Without the word the embedding changes nothing.
		{"e2e_base_eulera15_cfg7.5", Request{Prompt: "sunset, oil painting", NegativeGiven: true, Width: 128, Height: 128,
			Sampler: "euler_a", Schedule: "default", Steps: 15, CFGScale: 7.5, Seed: 1234, ClipSkip: 1}, true, false},
	} {
		t.Run(rr.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, rr.portable)
			checkReferenceRun(t, p, loraDir, rr)
		})
	}
}

// TestSDXLEmbeddingReferenceRuns: the SDXL embedding (clip_l for the first
// encoder, clip_g for the second) alone and with the LoRA at 128x96, from
// both layouts. The pooled embedding is taken at the end of text
// (eot_pooling.json: OpenCLIP's, kohya's and AUTOMATIC1111's choice, where
// diffusers pools at the embedding token), so the text context is held to
// diffusers' tensors, the pooled embeddings and the PNG to the
// end-of-text references.
func TestSDXLEmbeddingReferenceRuns(t *testing.T) {
	lf := openLoRA(t, sdxlLoRADir+"/sdxl-tiny-lora.safetensors")
	prompt := "a <tiny-xl> fox sitting in a snowy forest, morning light"
	for _, layout := range sdxlLayouts {
		p := loadWithEmbedding(t, layout.path, sdxlLoRADir+"/sdxl-tiny-emb.safetensors", "<tiny-xl>")
		for _, rr := range []run{
			{"e2e_ti_euler10_cfg5", Request{Prompt: prompt, Width: 128, Height: 128, Sampler: "euler", Schedule: "default",
				Steps: 10, CFGScale: 5, Seed: 1234, ClipSkip: 1}, false, true},
			{"e2e_lora_s1.0_ti_dpmpp2mkarras10_cfg6_w128h96", Request{Prompt: prompt, NegativePrompt: "blurry, low quality",
				Width: 128, Height: 96, Sampler: "dpmpp_2m", Schedule: "karras", Steps: 10, CFGScale: 6, Seed: 77, ClipSkip: 1,
				LoRAs: []LoRA{{lf, 1}}}, false, false},
		} {
			t.Run(layout.name+"/"+rr.name, func(t *testing.T) {
				refcheck.SkipOnPortable(t, rr.portable)
				eot, err := safetensors.Open(sdxlLoRADir + "/" + rr.name + ".eot.safetensors")
				if err != nil {
					t.Fatal(err)
				}
				defer eot.Close()
				if err := p.loras.with(rr.req.LoRAs, func() error {
					cond, err := p.conditioning(rr.req, (*Trace)(nil).hooks())
					if err != nil {
						return err
					}
					d := cond.Pooled.Shape[1]
					refcheck.Within(t, "pooled (end of text)", cond.Pooled.Data[d:], fixtureTensor(t, eot, "pooled_prompt_embeds"), sdxlTextTol)
					if cond.Pooled.Shape[0] == 2 && rr.req.NegativePrompt != "" {
						refcheck.Within(t, "negative pooled", cond.Pooled.Data[:d], fixtureTensor(t, eot, "negative_pooled_prompt_embeds"), sdxlTextTol)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				// The context against diffusers' own run; the PNG against the
				// end-of-text run's.
				f, err := safetensors.Open(sdxlLoRADir + "/" + rr.name + ".safetensors")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				tr := &Trace{}
				checkContextOnly(t, p, f, rr.req, tr)
				img, err := p.GenerateTrace(t.Context(), rr.req, nil, tr)
				if err != nil {
					t.Fatal(err)
				}
				refcheck.ImageWithin(t, img, sdxlLoRADir+"/"+rr.name+".eot.png", pngMaxLevel, pngMaxFraction)
			})
		}
	}
}

// checkContextOnly sets tr to compare the text context with f's
// prompt_embeds (and negative_prompt_embeds with guidance).
func checkContextOnly(t *testing.T, p *Pipeline, f *safetensors.File, req Request, tr *Trace) {
	tr.Context = func(ctx *tensor.Tensor) {
		n := ctx.Numel() / ctx.Shape[0]
		want := [][]float32{fixtureTensor(t, f, "prompt_embeds")}
		if ctx.Shape[0] == 2 {
			neg := fixtureTensor(t, f, "negative_prompt_embeds")
			want = [][]float32{neg, want[0]}
		}
		for row, w := range want {
			refcheck.Within(t, "context row", ctx.Data[row*n:(row+1)*n], w, sdxlTextTol)
		}
	}
}
