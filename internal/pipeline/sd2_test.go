package pipeline

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
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
		}), true, true},
		{"e2e_eulera15_cfg6", with(func(r *Request) {
			r.Prompt = "Macro photo of a DEWDROP on a leaf, 100mm, f/2.8"
			r.Sampler, r.Steps, r.CFGScale, r.Seed = "euler_a", 15, 6, 2718
		}), true, false},
		{"e2e_dpmpp2mkarras12_cfg5_w128h112", with(func(r *Request) {
			r.Prompt, r.NegativePrompt = sd2Cabin, "blurry, overexposed"
			r.Sampler, r.Schedule, r.Steps, r.CFGScale, r.Seed, r.Height = "dpmpp_2m", "karras", 12, 5, 90210, 112
		}), true, false},
	}
}

func TestSD2ReferenceRuns(t *testing.T) {
	for _, layout := range sd2Layouts {
		p := loadPipeline(t, layout.path)
		for _, rr := range sd2Runs() {
			t.Run(layout.name+"/"+rr.name, func(t *testing.T) {
				refcheck.SkipOnPortable(t, rr.portable)
				checkReferenceRun(t, p, "../../testdata/sd2", rr)
			})
		}
	}
}

// Component parity of the sd2-tiny model against diffusers/transformers
// (testdata/sd2/{text_encoder,unet,vae}.safetensors, tokenizer.json), each
// network loaded through model.Load from both layouts. Absolute bars, about
// 5x the worst measured on any kernel set:
const (
	sd2TextTol = 1e-5 // measured 1.9e-6
	sd2UNetTol = 1e-5 // measured 2.0e-6
	sd2VAETol  = 3e-5 // measured 6.0e-6
)

var sd2Layouts = []struct{ name, path string }{
	{"folder", "../../testdata/sd2/model"},
	{"single_file", "../../testdata/sd2/sd2-tiny.fp16.safetensors"},
}

func sd2Model(t *testing.T, path string) *model.Model {
	t.Helper()
	m, err := model.Load(path, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func sd2Tensor(t *testing.T, f *safetensors.File, name string) *tensor.Tensor {
	t.Helper()
	in, ok := f.Info(name)
	if !ok {
		t.Fatalf("fixture tensor %q missing", name)
	}
	x := tensor.New(in.Shape...)
	copy(x.Data, fixtureTensor(t, f, name))
	return x
}

func TestSD2Tokenizer(t *testing.T) {
	b, err := os.ReadFile("../../testdata/sd2/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		PadID int `json:"pad_id"`
		Cases []struct {
			Prompt    string `json:"prompt"`
			IDsOpenAI []int  `json:"ids_openai"`
			IDsFtfy   []int  `json:"ids_ftfy"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	for _, l := range sd2Layouts {
		if m := sd2Model(t, l.path); m.TextEncoders[0].PadID != fx.PadID {
			t.Errorf("%s: pad id %d, want %d", l.name, m.TextEncoders[0].PadID, fx.PadID)
		}
	}
	tok := textenc.NewCLIPTokenizer(fx.PadID)
	ftfy := 0
	refcheck.NotEmpty(t, "tokenizer cases", len(fx.Cases))
	for i, c := range fx.Cases {
		ids := tok.Encode(c.Prompt).IDs
		if !slices.Equal(ids, c.IDsOpenAI) {
			t.Errorf("case %d %q:\n got %v\nwant %v", i, c.Prompt, ids, c.IDsOpenAI)
		}
		if slices.Equal(ids, c.IDsFtfy) {
			ftfy++
		}
	}
	t.Logf("%d cases: all match ids_openai (pad 0), %d match ids_ftfy", len(fx.Cases), ftfy)
}

func TestSD2TextEncoder(t *testing.T) {
	f, err := safetensors.Open("../../testdata/sd2/text_encoder.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := f.Int64("input_ids")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([][]int, len(raw)/77)
	for i, v := range raw {
		ids[i/77] = append(ids[i/77], int(v))
	}
	for _, l := range sd2Layouts {
		t.Run(l.name, func(t *testing.T) {
			m := sd2Model(t, l.path)
			te, err := textenc.LoadTextModel(m.TextEncoders[0].Config, weights.NewLoader(m.TextEncoders[0].Weights))
			if err != nil {
				t.Fatal(err)
			}
			hs, err := te.HiddenStates(ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(hs) != 5 {
				t.Fatalf("%d hidden states, want 5 (embeddings + 4 layers)", len(hs))
			}
			for i, h := range hs {
				refcheck.Within(t, "hidden_states."+string(rune('0'+i)), h.Data, fixtureTensor(t, f, "hidden_states."+string(rune('0'+i))), sd2TextTol)
			}
			last, err := te.Encode(ids, 1)
			if err != nil {
				t.Fatal(err)
			}
			refcheck.Within(t, "last_hidden_state (= full_model.penultimate_ln)", last.Data, fixtureTensor(t, f, "full_model.penultimate_ln"), sd2TextTol)
		})
	}
}

func TestSD2UNet(t *testing.T) {
	f, err := safetensors.Open("../../testdata/sd2/unet.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range sd2Layouts {
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
				{"sq", "sq.t45.out", []float64{45}},
				{"sq", "sq.t_per_sample.out", []float64{999, 45}},
				{"ns_14x16", "ns_14x16.t600.out", []float64{600}},
				{"ns_16x10", "ns_16x10.t120.out", []float64{120}},
			} {
				got, err := u.Forward(sd2Tensor(t, f, c.prefix+".sample"), c.ts, unet.Conditioning{Text: sd2Tensor(t, f, c.prefix+".context")}, nil)
				if err != nil {
					t.Fatal(err)
				}
				refcheck.Within(t, c.out, got.Data, fixtureTensor(t, f, c.out), sd2UNetTol)
			}
		})
	}
}

func TestSD2VAE(t *testing.T) {
	f, err := safetensors.Open("../../testdata/sd2/vae.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range sd2Layouts {
		t.Run(l.name, func(t *testing.T) {
			m := sd2Model(t, l.path)
			v, err := vae.Load(m.VAE, weights.NewLoader(m.VAEWeights))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"dec_4x4", "dec_6x4"} {
				refcheck.Within(t, p+".out", v.Decode(sd2Tensor(t, f, p+".latents")).Data, fixtureTensor(t, f, p+".out"), sd2VAETol)
			}
			for _, p := range []string{"enc_32x32", "enc_32x48"} {
				mean, logvar := v.Encode(sd2Tensor(t, f, p+".image"))
				refcheck.Within(t, p+".mean", mean.Data, fixtureTensor(t, f, p+".mean"), sd2VAETol)
				refcheck.Within(t, p+".logvar", logvar.Data, fixtureTensor(t, f, p+".logvar"), sd2VAETol)
			}
		})
	}
}
