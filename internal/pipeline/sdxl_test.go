package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/sampler"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

// SDXL parity (testdata/sdxl, the sdxl-tiny fixtures: two text encoders,
// three U-Net levels with per-level transformer depth, the added text and
// size conditioning, VAE scaling 0.13025), every stage and every seeded
// run, through the float16 copy of the diffusers folder and the original
// single file. Absolute bars, about 5x the worst measured on any kernel set.
const (
	sdxlTextTol  = 1e-5   // measured 1.6e-6 (assembly) / 1.4e-6 (portable)
	sdxlUNetTol  = 1e-5   // outputs; measured 1.9e-6 / 1.9e-6
	sdxlBlockTol = 2.5e-5 // block outputs; measured 4.4e-6 / 5.0e-6 (mid block)
	sdxlVAETol   = 3e-5   // measured 3.3e-6 / 2.7e-6
)

const sdxlDir = "../../testdata/sdxl"

var sdxlLayouts = []struct{ name, path string }{
	{"folder", sdxlDir + "/model"},
	{"single_file", sdxlDir + "/sdxl-tiny.fp16.safetensors"},
}

func openFixture(t *testing.T, name string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(sdxlDir + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func fixtureIDs(t *testing.T, f *safetensors.File, name string) [][]int {
	t.Helper()
	raw, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([][]int, len(raw)/textenc.ContextLen)
	for i, v := range raw {
		ids[i/textenc.ContextLen] = append(ids[i/textenc.ContextLen], int(v))
	}
	return ids
}

// TestSDXLTokenizer: the first tokenizer is SD 1.x's. The second pads with
// "!" (id 0) and otherwise follows OpenCLIP, which SDXL was trained with,
// and AUTOMATIC1111: a "!" in the prompt is text. diffusers' slow tokenizer
// instead maps every "!" to the pad id (it is a registered special token
// there); the cases marked tokenizers_differ_before_padding are exactly
// where the two disagree, and there ours must equal the first tokenizer's
// ids with the padding replaced.
func TestSDXLTokenizer(t *testing.T) {
	b, err := os.ReadFile(sdxlDir + "/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		PadID  int `json:"pad_id"`
		PadID2 int `json:"pad_id_2"`
		Cases  []struct {
			Prompt string `json:"prompt"`
			IDs    []int  `json:"ids"`
			IDs2   []int  `json:"ids_2"`
			Differ bool   `json:"tokenizers_differ_before_padding"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	for _, l := range sdxlLayouts {
		m := sd2Model(t, l.path)
		if len(m.TextEncoders) != 2 || m.TextEncoders[0].PadID != fx.PadID || m.TextEncoders[1].PadID != fx.PadID2 {
			t.Fatalf("%s: text encoders %+v, want pads %d and %d", l.name, m.TextEncoders, fx.PadID, fx.PadID2)
		}
	}
	tok1, tok2 := textenc.NewCLIPTokenizer(fx.PadID), textenc.NewCLIPTokenizer(fx.PadID2)
	refcheck.NotEmpty(t, "tokenizer cases", len(fx.Cases))
	differ, ascii := 0, 0
	for i, c := range fx.Cases {
		enc1, enc2 := tok1.Encode(c.Prompt), tok2.Encode(c.Prompt)
		// Padding starts after BOS, the kept text tokens and EOS.
		padFrom := 2 + min(enc1.TextTokens, textenc.ContextLen-2)
		want2 := slices.Clone(enc1.IDs)
		for j := padFrom; j < len(want2); j++ {
			want2[j] = fx.PadID2
		}
		if !slices.Equal(enc2.IDs, want2) {
			t.Errorf("case %d %q, tokenizer_2:\n got %v\nwant %v (tokenizer's ids padded with %d)", i, c.Prompt, enc2.IDs, want2, fx.PadID2)
		}
		if !isASCII(c.Prompt) {
			// transformers runs without ftfy here, OpenAI's tokenizer (and
			// ours) with it: non-ASCII text is TestTokenizerFixtures' job.
			continue
		}
		ascii++
		if !slices.Equal(enc1.IDs, c.IDs) {
			t.Errorf("case %d %q, tokenizer:\n got %v\nwant %v", i, c.Prompt, enc1.IDs, c.IDs)
		}
		if same := slices.Equal(enc2.IDs, c.IDs2); same == c.Differ {
			t.Errorf("case %d %q: tokenizer_2 equal to diffusers' = %v, fixture says the tokenizers differ = %v", i, c.Prompt, same, c.Differ)
		}
		if c.Differ {
			differ++
		}
	}
	if differ == 0 {
		t.Error("no case where diffusers' tokenizer_2 treats \"!\" as padding")
	}
	t.Logf("%d cases, %d ASCII checked against transformers; %d where diffusers' tokenizer_2 differs from OpenCLIP's reading of \"!\"", len(fx.Cases), ascii, differ)
}

func isASCII(s string) bool {
	for _, r := range s {
		if r > 127 {
			return false
		}
	}
	return true
}

func TestSDXLTextEncoders(t *testing.T) {
	f := openFixture(t, "text_encoders.safetensors")
	ids := [][][]int{fixtureIDs(t, f, "te1.input_ids"), fixtureIDs(t, f, "te2.input_ids")}
	for _, l := range sdxlLayouts {
		t.Run(l.name, func(t *testing.T) {
			m := sd2Model(t, l.path)
			for i, te := range m.TextEncoders {
				tm, err := textenc.LoadTextModel(te.Config, weights.NewLoader(te.Weights))
				if err != nil {
					t.Fatal(err)
				}
				pre := fmt.Sprintf("te%d.", i+1)
				hs, err := tm.HiddenStates(ids[i])
				if err != nil {
					t.Fatal(err)
				}
				for j, h := range hs {
					name := fmt.Sprintf("%shidden_states.%d", pre, j)
					refcheck.Within(t, name, h.Data, fixtureTensor(t, f, name), sdxlTextTol)
				}
				ctx, pooled, err := tm.EncodeXL(ids[i], 1, te.Pooled)
				if err != nil {
					t.Fatal(err)
				}
				refcheck.Within(t, pre+"context (hidden_states.2)", ctx.Data, fixtureTensor(t, f, pre+"hidden_states.2"), sdxlTextTol)
				if te.Pooled {
					refcheck.Within(t, pre+"text_embeds", pooled.Data, fixtureTensor(t, f, pre+"text_embeds"), sdxlTextTol)
				}
				// CLIP skip 2 is one layer further back; the pooled
				// embedding stays the full tower's.
				ctx2, pooled2, err := tm.EncodeXL(ids[i], 2, te.Pooled)
				if err != nil {
					t.Fatal(err)
				}
				refcheck.Within(t, pre+"clip skip 2 (hidden_states.1)", ctx2.Data, fixtureTensor(t, f, pre+"hidden_states.1"), sdxlTextTol)
				if te.Pooled {
					refcheck.Bitwise(t, pre+"pooled at clip skip 2", pooled2.Data, pooled.Data)
				}
			}
		})
	}
}

// TestSDXLConditioning: what the pipeline hands the U-Net for a prompt
// with guidance: the prompt_embeds of both encoders joined, the pooled
// embedding, and zeros for the unconditional row when no negative prompt
// is given (force_zeros_for_empty_prompt), the encoding of "" when one is.
func TestSDXLConditioning(t *testing.T) {
	f := openFixture(t, "text_encoders.safetensors")
	var meta struct {
		Meta struct {
			Prompts []string `json:"prompts"`
		} `json:"meta"`
	}
	b, err := os.ReadFile(sdxlDir + "/text_encoders.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	embeds, pooled := fixtureTensor(t, f, "prompt_embeds"), fixtureTensor(t, f, "te2.text_embeds")
	n, pn := len(embeds)/3, len(pooled)/3
	if meta.Meta.Prompts[1] != "" {
		t.Fatalf("fixture row 1 is %q, want the empty prompt", meta.Meta.Prompts[1])
	}
	for _, l := range sdxlLayouts {
		t.Run(l.name, func(t *testing.T) {
			p := loadPipeline(t, l.path)
			req := Request{Prompt: meta.Meta.Prompts[0], CFGScale: 5, Width: 64, Height: 48}
			cond, err := p.encode(req, true)
			if err != nil {
				t.Fatal(err)
			}
			refcheck.Within(t, "context", cond.Text.Data[n:], embeds[:n], sdxlTextTol)
			refcheck.Within(t, "pooled", cond.Pooled.Data[pn:], pooled[:pn], sdxlTextTol)
			refcheck.Bitwise(t, "no negative prompt: zero context", cond.Text.Data[:n], make([]float32, n))
			refcheck.Bitwise(t, "no negative prompt: zero pooled", cond.Pooled.Data[:pn], make([]float32, pn))

			req.NegativeGiven = true // -n ""
			cond, err = p.encode(req, true)
			if err != nil {
				t.Fatal(err)
			}
			refcheck.Within(t, `negative "" context`, cond.Text.Data[:n], embeds[n:2*n], sdxlTextTol)
			refcheck.Within(t, `negative "" pooled`, cond.Pooled.Data[:pn], pooled[pn:2*pn], sdxlTextTol)
		})
	}
}

func TestSDXLUNet(t *testing.T) {
	f := openFixture(t, "unet.safetensors")
	get := func(name string) *tensor.Tensor { return sd2Tensor(t, f, name) }
	for _, l := range sdxlLayouts {
		t.Run(l.name, func(t *testing.T) {
			m := sd2Model(t, l.path)
			u, err := unet.Load(m.UNet, weights.NewLoader(m.UNetWeights))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				prefix, out string
				ts          []float64
			}{
				{"sq", "sq.t999.out", []float64{999}},
				{"sq", "sq.t1.out", []float64{1}},
				{"sq", "sq.t_per_sample.out", sd2Floats(fixtureTensor(t, f, "sq.t_per_sample.timesteps"))},
				{"ns_12x16", "ns_12x16.t500.out", []float64{500}},
				{"ns_16x8", "ns_16x8.t250.out", []float64{250}},
			} {
				cond := unet.Conditioning{Text: get(c.prefix + ".context"), Pooled: get(c.prefix + ".text_embeds"), TimeIDs: get(c.prefix + ".time_ids")}
				hooked := map[string][]float32{}
				got, err := u.Forward(get(c.prefix+".sample"), c.ts, cond, func(name string, x *tensor.Tensor) { hooked[name] = slices.Clone(x.Data) })
				if err != nil {
					t.Fatal(err)
				}
				refcheck.Within(t, c.out, got.Data, fixtureTensor(t, f, c.out), sdxlUNetTol)
				if c.out != "sq.t999.out" {
					continue
				}
				for _, name := range []string{"time_embedding", "add_time_proj", "add_embedding", "down_blocks.2", "mid_block", "up_blocks.0"} {
					refcheck.Within(t, name, hooked[name], fixtureTensor(t, f, "sq.t999.intermediate."+name), sdxlBlockTol)
				}
			}
			// Without the added conditioning, an SDXL U-Net refuses to run.
			if _, err := u.Forward(get("sq.sample"), []float64{1}, unet.Conditioning{Text: get("sq.context")}, nil); err == nil {
				t.Error("no error without the pooled embedding and size ids")
			}
		})
	}
}

// fixtureNumbers reads a float or integer tensor as float32.
func fixtureNumbers(t *testing.T, f *safetensors.File, name string) []float32 {
	t.Helper()
	if in, _ := f.Info(name); in.DType != "I64" {
		return fixtureTensor(t, f, name)
	}
	v, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func sd2Floats(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestSDXLVAE(t *testing.T) {
	f := openFixture(t, "vae.safetensors")
	for _, l := range sdxlLayouts {
		t.Run(l.name, func(t *testing.T) {
			m := sd2Model(t, l.path)
			if m.VAE.ScalingFactor != 0.13025 {
				t.Errorf("scaling factor %g, want 0.13025", m.VAE.ScalingFactor)
			}
			v, err := vae.Load(m.VAE, weights.NewLoader(m.VAEWeights))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"dec_4x4", "dec_8x12"} {
				refcheck.Within(t, p+".out", v.Decode(sd2Tensor(t, f, p+".latents")).Data, fixtureTensor(t, f, p+".out"), sdxlVAETol)
			}
			mean, _ := v.Encode(sd2Tensor(t, f, "enc_32x48.image"))
			refcheck.Within(t, "enc_32x48.mean", mean.Data, fixtureTensor(t, f, "enc_32x48.mean"), sdxlVAETol)
		})
	}
}

// TestSDXLSchedulers: SDXL base's EulerDiscrete with "leading" spacing
// (init noise sqrt(sigma_max^2+1)) and the set-ups the runs use, from both
// layouts' scheduler configurations, bit for bit.
func TestSDXLSchedulers(t *testing.T) {
	f := openFixture(t, "schedulers.safetensors")
	b, err := os.ReadFile(sdxlDir + "/schedulers.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Meta struct {
			Setups map[string]map[string]any `json:"setups"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	setups := []struct {
		name, sampler, spacing string
		karras                 bool
	}{
		{"euler", "euler", "", false},
		{"euler_a", "euler_a", "", false},
		{"dpmpp_2m_karras", "dpmpp_2m", "", true},
		{"euler_a_trailing", "euler_a", "trailing", false},
		{"euler_trailing", "euler", "trailing", false},
	}
	for _, l := range sdxlLayouts {
		m := sd2Model(t, l.path)
		cfg, err := sampler.ParseConfig(m.Scheduler)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, su := range setups {
			for _, n := range []int{1, 4, 12, 20, 25} {
				s, err := sampler.New(su.sampler, cfg, sampler.Options{Steps: n, Karras: su.karras, Spacing: su.spacing})
				if err != nil {
					t.Fatal(err)
				}
				pre := fmt.Sprintf("%s.n%d.", su.name, n)
				want := fixtureNumbers(t, f, pre+"timesteps")
				got := make([]float32, s.Len())
				for i := range got {
					got[i] = float32(s.Timestep(i))
				}
				refcheck.Bitwise(t, l.name+" "+pre+"timesteps", got, want)
				if init, ok := fx.Meta.Setups[su.name][fmt.Sprintf("n%d_init_noise_sigma", n)].(float64); ok {
					if s.InitNoiseSigma() != float32(init) {
						t.Errorf("%s %s: init noise sigma %v, want %v", l.name, pre, s.InitNoiseSigma(), float32(init))
					}
					checked++
				}
			}
		}
		if checked == 0 {
			t.Errorf("%s: no init_noise_sigma checked", l.name)
		}
	}
}

const sdxlFox = "a red fox sitting in a snowy forest, morning light"
const sdxlCastle = "an isometric pixel-art castle on a floating island"

func sdxlRuns() []run {
	base := Request{Width: 128, Height: 128, Schedule: "default", ClipSkip: 1}
	with := func(f func(*Request)) Request { r := base; f(&r); return r }
	return []run{
		{"e2e_euler20_cfg5", with(func(r *Request) {
			r.Prompt, r.Sampler, r.Steps, r.CFGScale, r.Seed = sdxlFox, "euler", 20, 5, 42
		}), true, true},
		{"e2e_dpmpp2mkarras15_cfg6_w128h96", with(func(r *Request) {
			r.Prompt, r.NegativePrompt, r.Height = sdxlCastle, "blurry, low quality", 96
			r.Sampler, r.Schedule, r.Steps, r.CFGScale, r.Seed = "dpmpp_2m", "karras", 15, 6, 2024
		}), true, false},
		{"e2e_eulera12_cfg7_condsizes", with(func(r *Request) {
			r.Prompt, r.NegativePrompt = sdxlFox, "lowres, watermark"
			r.Sampler, r.Steps, r.CFGScale, r.Seed = "euler_a", 12, 7, 123
			r.OriginalHeight, r.OriginalWidth, r.CropTop, r.CropLeft, r.TargetHeight, r.TargetWidth = 512, 384, 32, 16, 256, 256
		}), true, false},
		{"e2e_turbo_eulera1_cfg0", with(func(r *Request) {
			r.Prompt, r.Sampler, r.Steps, r.Seed, r.TimestepSpacing = sdxlCastle, "euler_a", 1, 7, "trailing"
		}), true, true},
		{"e2e_turbo_eulera4_cfg0", with(func(r *Request) {
			r.Prompt, r.Sampler, r.Steps, r.Seed, r.TimestepSpacing = sdxlCastle, "euler_a", 4, 7, "trailing"
		}), true, false},
	}
}

// TestSDXLReferenceRuns follows every seeded SDXL run stage by stage (text
// context, the added conditioning, torch's draws, each step's latents, the
// decoded image, the PNG) from both layouts.
func TestSDXLReferenceRuns(t *testing.T) {
	for _, layout := range sdxlLayouts {
		p := loadPipeline(t, layout.path)
		for _, rr := range sdxlRuns() {
			t.Run(layout.name+"/"+rr.name, func(t *testing.T) {
				refcheck.SkipOnPortable(t, rr.portable)
				f := openFixture(t, rr.name+".safetensors")
				checkAddedConditioning(t, p, f, rr.req)
				checkReferenceRun(t, p, sdxlDir, rr)
			})
		}
	}
}

// checkAddedConditioning compares the pooled embeddings and size ids the
// U-Net gets with diffusers' add_text_embeds and add_time_ids.
func checkAddedConditioning(t *testing.T, p *Pipeline, f *safetensors.File, req Request) {
	t.Helper()
	cond, err := p.conditioning(req, (*Trace)(nil).hooks())
	if err != nil {
		t.Fatal(err)
	}
	refcheck.Within(t, "add_text_embeds", cond.Pooled.Data, fixtureTensor(t, f, "add_text_embeds")[len(fixtureTensor(t, f, "add_text_embeds"))-len(cond.Pooled.Data):], sdxlTextTol)
	ids := fixtureTensor(t, f, "add_time_ids")
	refcheck.Bitwise(t, "add_time_ids", cond.TimeIDs.Data, ids[len(ids)-len(cond.TimeIDs.Data):])
}

// TestSDXLImageToImage: StableDiffusionXLImg2ImgPipeline at strength 0.6
// from both layouts: the init latents, every step and the PNG.
func TestSDXLImageToImage(t *testing.T) {
	const name = "e2e_img2img_euler20_s0.6_cfg5"
	img, err := pngout.Load(sdxlDir + "/img2img_init.png")
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Prompt: sdxlFox, NegativePrompt: "blurry", Width: 128, Height: 128, Steps: 20, CFGScale: 5,
		Sampler: "euler", Schedule: "default", Seed: 606, Strength: 0.6, InitImage: ImageTensor(img)}
	for _, layout := range sdxlLayouts {
		t.Run(layout.name, func(t *testing.T) {
			p := loadPipeline(t, layout.path)
			f := openFixture(t, name+".safetensors")
			var steps [][]float32
			tr := &Trace{
				InitLatents: func(init, _ []float32) {
					refcheck.Within(t, "init latents", init, fixtureTensor(t, f, "init_latents"), initLatentTol)
				},
				Step: func(_ int, _, x []float32) { steps = append(steps, slices.Clone(x)) },
			}
			got, err := p.GenerateTrace(t.Context(), req, nil, tr)
			if err != nil {
				t.Fatal(err)
			}
			checkStepsTol(t, "latents", steps, fixtureTensor(t, f, "latents_after_step"), wholeRunStepTol)
			refcheck.ImageWithin(t, got, sdxlDir+"/"+name+".png", pngMaxLevel, imagePNGFraction)
		})
	}
}

// TestSDXLLongPromptPooled: with --long-prompts chunk the context is the
// chunks' contexts one after the other and the pooled embedding is the
// first chunk's (AUTOMATIC1111); emphasis changes the context, not the
// pooled embedding.
func TestSDXLLongPromptPooled(t *testing.T) {
	p := loadPipeline(t, sdxlDir+"/model")
	words := strings.Repeat("fox ", 74) + "fox" // 75 tokens: one full chunk
	long := Request{Prompt: words + " BREAK a snowy forest", LongPrompts: "chunk", ClipSkip: 1}
	first := Request{Prompt: words, LongPrompts: "chunk", ClipSkip: 1}
	second := Request{Prompt: "a snowy forest", LongPrompts: "chunk", ClipSkip: 1}
	got, err := p.encode(long, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.encode(first, false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.encode(second, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2 * textenc.ContextLen, 20}; !slices.Equal(got.Text.Shape, want) {
		t.Fatalf("context %v, want %v", got.Text.Shape, want)
	}
	half := len(got.Text.Data) / 2
	refcheck.Bitwise(t, "first chunk's context", got.Text.Data[:half], a.Text.Data)
	refcheck.Bitwise(t, "second chunk's context", got.Text.Data[half:], b.Text.Data)
	refcheck.Bitwise(t, "pooled: the first chunk's", got.Pooled.Data, a.Pooled.Data)

	plain, err := p.encode(Request{Prompt: "a red fox", ClipSkip: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	weighted, err := p.encode(Request{Prompt: "a (red:1.5) fox", ClipSkip: 1}, false)
	if err != nil {
		t.Fatal(err)
	}
	refcheck.Bitwise(t, "emphasis leaves the pooled embedding", weighted.Pooled.Data, plain.Pooled.Data)
	if d := refcheck.MaxAbsDiff(t, "emphasis", weighted.Text.Data, plain.Text.Data); d == 0 {
		t.Error("emphasis did not change the context")
	}
}
