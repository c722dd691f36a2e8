package pipeline

import "testing"

func TestInfoText(t *testing.T) {
	base := Request{
		Prompt: "sunset, oil painting", Width: 512, Height: 512, Steps: 20,
		CFGScale: 7.5, Sampler: "dpmpp_2m", Schedule: "karras", Seed: 42, ClipSkip: 1,
	}
	with := func(f func(*Request)) Request { r := base; f(&r); return r }
	tests := []struct {
		name        string
		req         Request
		model, hash string
		want        string
	}{
		{
			"defaults", base, "v1-5-pruned-emaonly", "6ce0161689",
			"sunset, oil painting\n" +
				"Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly",
		},
		{
			"negative and clip skip",
			with(func(r *Request) { r.NegativePrompt = "blurry"; r.ClipSkip = 2 }), "m", "abcdef1234",
			"sunset, oil painting\nNegative prompt: blurry\n" +
				"Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: abcdef1234, Model: m, Clip skip: 2",
		},
		{
			"default schedule, integral cfg, no model",
			with(func(r *Request) {
				r.Sampler = "euler_a"
				r.Schedule = "default"
				r.CFGScale = 7
				r.Width = 640
				r.Height = 448
			}), "", "",
			"sunset, oil painting\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 640x448",
		},
		{
			"ddim eta",
			with(func(r *Request) { r.Sampler = "ddim"; r.Schedule = "default"; r.Eta = 0.5; r.ClipSkip = 0 }), "m", "",
			"sunset, oil painting\nSteps: 20, Sampler: DDIM, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: m, Eta DDIM: 0.5",
		},
		{
			"eta ignored for other samplers",
			with(func(r *Request) { r.Sampler = "euler"; r.Schedule = "default"; r.Eta = 0.5 }), "", "",
			"sunset, oil painting\nSteps: 20, Sampler: Euler, CFG scale: 7.5, Seed: 42, Size: 512x512",
		},
		{
			"every sampler name",
			with(func(r *Request) { r.Sampler = "pndm"; r.Schedule = "default"; r.Steps = 50 }), "", "",
			"sunset, oil painting\nSteps: 50, Sampler: PLMS, CFG scale: 7.5, Seed: 42, Size: 512x512",
		},
		{"bf16", with(func(r *Request) { r.Precision = "bf16" }), "", "", "sunset, oil painting\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Precision: bf16"},
		{"fp32 not written", with(func(r *Request) { r.Precision = "fp32" }), "", "", "sunset, oil painting\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512"},
		{"ddpm", with(func(r *Request) { r.Sampler = "ddpm" }), "", "", "sunset, oil painting\nSteps: 20, Sampler: DDPM Karras, CFG scale: 7.5, Seed: 42, Size: 512x512"},
		{"lms", with(func(r *Request) { r.Sampler = "lms"; r.Schedule = "default" }), "", "", "sunset, oil painting\nSteps: 20, Sampler: LMS, CFG scale: 7.5, Seed: 42, Size: 512x512"},
		{"unknown sampler kept", with(func(r *Request) { r.Sampler = "unipc"; r.Schedule = "default" }), "", "", "sunset, oil painting\nSteps: 20, Sampler: unipc, CFG scale: 7.5, Seed: 42, Size: 512x512"},
		{
			"model name with separators is quoted",
			base, `my, "best": model`, "",
			"sunset, oil painting\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: \"my, \\\"best\\\": model\"",
		},
		{
			"empty prompt, big seed",
			with(func(r *Request) { r.Prompt = ""; r.Seed = 4294967295 }), "", "",
			"\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 4294967295, Size: 512x512",
		},
		{
			"non-latin1 prompt kept",
			with(func(r *Request) { r.Prompt = "夕焼け"; r.NegativePrompt = "ぼやけ" }), "", "",
			"夕焼け\nNegative prompt: ぼやけ\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.req.InfoText(ModelInfo{Name: tc.model, Hash: tc.hash}); got != tc.want {
				t.Errorf("InfoText =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestInfoTextVAE(t *testing.T) {
	r := Request{Prompt: "a", Width: 64, Height: 64, Steps: 2, CFGScale: 7.5, Sampler: "euler", Schedule: "default", Seed: 1, ClipSkip: 2}
	want := "a\nSteps: 2, Sampler: Euler, CFG scale: 7.5, Seed: 1, Size: 64x64, Model hash: 0123456789, Model: m, VAE: vae-ft-mse.safetensors, Clip skip: 2"
	if got := r.InfoText(ModelInfo{Name: "m", Hash: "0123456789", VAE: "vae-ft-mse.safetensors"}); got != want {
		t.Errorf("InfoText =\n%s\nwant\n%s", got, want)
	}
}

// TestParseInfoTextRoundTrip: what InfoText writes, ParseInfoText reads
// back, for every case of TestInfoText's kind, and AUTOMATIC1111's own text.
func TestParseInfoTextRoundTrip(t *testing.T) {
	r := Request{Prompt: "a castle,\nat night", NegativePrompt: "blurry\nlow: quality", Width: 512, Height: 768, Steps: 25,
		CFGScale: 6.5, Sampler: "ddim", Schedule: "default", Eta: 0.5, Seed: 42, ClipSkip: 2, TimestepSpacing: "trailing",
		Prediction: "v", LongPrompts: "chunk", Precision: "bf16"}
	text := r.InfoText(ModelInfo{Name: `my, "best": model`, Hash: "0123456789", VAE: "v.safetensors"})
	p, err := ParseInfoText(text)
	if err != nil {
		t.Fatal(err)
	}
	if p.Prompt != r.Prompt || p.NegativePrompt != r.NegativePrompt {
		t.Errorf("prompt %q, negative %q", p.Prompt, p.NegativePrompt)
	}
	for k, want := range map[string]string{"Steps": "25", "Sampler": "DDIM", "CFG scale": "6.5", "Seed": "42", "Size": "512x768",
		"Model": `my, "best": model`, "Model hash": "0123456789", "VAE": "v.safetensors", "Clip skip": "2", "Eta DDIM": "0.5",
		"Timestep spacing": "trailing", "Prediction": "v", "Long prompts": "chunk", "Precision": "bf16"} {
		if got, ok := p.Get(k); !ok || got != want {
			t.Errorf("%s = %q (%v), want %q", k, got, ok, want)
		}
	}
	a1111 := "masterpiece, a fox\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.6.0"
	p, err = ParseInfoText(a1111)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := p.Get("Sampler"); s != "DPM++ 2M Karras" || p.Prompt != "masterpiece, a fox" || len(p.Settings) != 8 {
		t.Errorf("%+v", p)
	}
	for _, bad := range []string{"just a prompt", "p\nSteps: 20, Sampler"} {
		if _, err := ParseInfoText(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
