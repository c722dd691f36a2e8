package pipeline

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/lora"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
)

// LoRA parity: testdata/lora (the sd1-tiny-lora fixtures: a kohya LoRA of
// rank 4, alpha 2, on the U-Net's attention, feed-forward, projections,
// resnets and samplers, LoCon 3x3 convolutions, and the text encoder) and
// testdata/sdxl-lora (a kohya SDXL LoRA with the original SGM block names
// and both text encoders), through diffusers 0.27.2 + peft.
const (
	loraDir     = "../../testdata/lora"
	sdxlLoRADir = "../../testdata/sdxl-lora"
	// loraDeltaTol bounds a layer's output change against its reference
	// delta weight applied directly, relative to the largest output change
	// (the side path rounds in another order); measured 7.8e-7.
	loraDeltaTol = 5e-6
)

func openLoRA(t *testing.T, path string) *lora.File {
	t.Helper()
	f, err := lora.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestLoRAKeyMapping: every module of both fixture LoRAs lands on the
// layer diffusers puts it on (lora_keys.json: kohya names for SD 1.x, the
// original SGM block names for SDXL's U-Net, te1/te2 for SDXL's encoders).
func TestLoRAKeyMapping(t *testing.T) {
	for _, c := range []struct{ name, model, file, keys string }{
		{"sd1", "../../testdata/model-diffusers", loraDir + "/sd1-tiny-lora.safetensors", loraDir + "/lora_keys.json"},
		{"sdxl", sdxlDir + "/model", sdxlLoRADir + "/sdxl-tiny-lora.safetensors", sdxlLoRADir + "/lora_keys.json"},
		{"sdxl_single_file", sdxlDir + "/sdxl-tiny.fp16.safetensors", sdxlLoRADir + "/sdxl-tiny-lora.safetensors", sdxlLoRADir + "/lora_keys.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := loadPipeline(t, c.model)
			f := openLoRA(t, c.file)
			targets, err := p.loras.targets()
			if err != nil {
				t.Fatal(err)
			}
			binds, err := f.Resolve(targets)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, b := range binds {
				got[b.Module.Key] = b.Component + ":" + b.Layer
			}
			var ref struct {
				ModulesList []struct{ Kohya, Component, Module string } `json:"modules_list"`
			}
			readJSON(t, c.keys, &ref)
			if len(ref.ModulesList) == 0 || len(binds) != len(ref.ModulesList) {
				t.Fatalf("%d modules bound, reference lists %d", len(binds), len(ref.ModulesList))
			}
			for _, m := range ref.ModulesList {
				if want := m.Component + ":" + m.Module; got[m.Kohya] != want {
					t.Errorf("%s -> %q, want %q", m.Kohya, got[m.Kohya], want)
				}
			}
		})
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestLoRALayerDeltas: for each layer of lora_weights (linear layers,
// GEGLU, 1x1 and 3x3 convolutions, a stride-2 down-sampler, the time
// embedding projection, text-encoder layers), the file's pair is read
// bit for bit, and the layer's output with the LoRA at strength 1 differs
// from its output without it by exactly peft's delta weight applied to the
// input.
func TestLoRALayerDeltas(t *testing.T) {
	for _, c := range []struct{ name, model, dir, file string }{
		{"sd1", "../../testdata/model-diffusers", loraDir, "sd1-tiny-lora.safetensors"},
		{"sdxl", sdxlDir + "/model", sdxlLoRADir, "sdxl-tiny-lora.safetensors"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := loadPipeline(t, c.model)
			lf := openLoRA(t, c.dir+"/"+c.file)
			targets, err := p.loras.targets()
			if err != nil {
				t.Fatal(err)
			}
			binds, err := lf.Resolve(targets)
			if err != nil {
				t.Fatal(err)
			}
			byLayer := map[string]*lora.Module{}
			for _, b := range binds {
				byLayer[b.Component+"."+b.Layer] = b.Module
			}
			ref, err := safetensors.Open(c.dir + "/lora_weights.safetensors")
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			n := 0
			for _, name := range ref.Names() {
				layerName, ok := strings.CutSuffix(name, ".delta_s1")
				if !ok {
					continue
				}
				n++
				t.Run(layerName, func(t *testing.T) {
					m := byLayer[layerName]
					if m == nil {
						t.Fatalf("no module bound to %s", layerName)
					}
					refcheck.Bitwise(t, "down", m.Down, fixtureTensor(t, ref, layerName+".lora_down"))
					refcheck.Bitwise(t, "up", m.Up, fixtureTensor(t, ref, layerName+".lora_up"))
					if m.Scale() != 0.5 {
						t.Errorf("alpha/rank = %g, want 0.5", m.Scale())
					}
					comp, lname, _ := strings.Cut(layerName, ".")
					layer := p.loras.layers[comp][lname].(nn.Adaptable)
					info, _ := ref.Info(name)
					checkLayerDelta(t, layer, m, fixtureTensor(t, ref, name), info.Shape)
				})
			}
			if n < 10 {
				t.Fatalf("%d layers in lora_weights, want at least 10", n)
			}
		})
	}
}

// checkLayerDelta runs layer on a random input with and without m at
// strength 1 and compares the change with delta [out, in(, k, k)] applied
// directly.
func checkLayerDelta(t *testing.T, layer nn.Adaptable, m *lora.Module, delta []float32, shape []int) {
	t.Helper()
	u, err := layer.NewLowRank(m.Down, m.DownShape, m.Up, m.UpShape, float32(m.Scale()))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var x *tensor.Tensor
	var want []float32
	var forward func(*tensor.Tensor) *tensor.Tensor
	switch l := layer.(type) {
	case *nn.Linear:
		const rows = 5
		x = tensor.New(rows, l.In)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
		}
		want = make([]float32, rows*l.Out)
		for r := 0; r < rows; r++ {
			for o := 0; o < l.Out; o++ {
				var s float64
				for i := 0; i < l.In; i++ {
					s += float64(delta[o*l.In+i]) * float64(x.Data[r*l.In+i])
				}
				want[r*l.Out+o] = float32(s)
			}
		}
		forward = l.Forward
	case *nn.Conv2d:
		const h, w = 8, 8
		x = tensor.New(1, l.In, h, w)
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
		}
		want = directConv(x.Data, delta, l, h, w)
		forward = l.Forward
	default:
		t.Fatalf("layer %T", layer)
	}
	base := forward(x).Clone()
	layer.SetLowRank([]nn.LowRank{u})
	with := forward(x)
	layer.SetLowRank(nil)
	got := make([]float32, len(with.Data))
	for i := range got {
		got[i] = with.Data[i] - base.Data[i]
	}
	refcheck.Check(t, "output change vs delta weight (relative)", refcheck.RelDiff(t, "change", got, want), loraDeltaTol)
}

// directConv convolves x [1, In, h, w] with w [Out, In, K, K] with c's
// stride and padding, without bias.
func directConv(x, w []float32, c *nn.Conv2d, h, wd int) []float32 {
	oh, ow := c.OutSize(h, wd)
	out := make([]float32, c.Out*oh*ow)
	k := c.K
	for o := 0; o < c.Out; o++ {
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				var s float64
				for i := 0; i < c.In; i++ {
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := y*c.Stride+ky-c.PadT, xx*c.Stride+kx-c.PadL
							if iy < 0 || iy >= h || ix < 0 || ix >= wd {
								continue
							}
							s += float64(w[((o*c.In+i)*k+ky)*k+kx]) * float64(x[(i*h+iy)*wd+ix])
						}
					}
				}
				out[(o*oh+y)*ow+xx] = float32(s)
			}
		}
	}
	return out
}

// TestLoRAReferenceRuns follows the seeded LoRA runs stage by stage (the
// text context with the text-encoder LoRA, each step, the decoded image,
// the PNG): strength 1, 0.6 applied at run time, and the same 0.6 against
// diffusers' fused run (peft merged into the weights; the reference PNGs
// differ in 6 values by one level).
func TestLoRAReferenceRuns(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-diffusers")
	lf := openLoRA(t, loraDir+"/sd1-tiny-lora.safetensors")
	base := Request{Prompt: "sunset, oil painting", NegativeGiven: true, Width: 128, Height: 128, Sampler: "euler_a",
		Schedule: "default", Steps: 15, CFGScale: 7.5, Seed: 1234, ClipSkip: 1}
	with := func(s float64) Request { r := base; r.LoRAs = []LoRA{{lf, s}}; return r }
	for _, rr := range []run{
		{"e2e_base_eulera15_cfg7.5", base, true, false},
		{"e2e_lora_s1.0_eulera15_cfg7.5", with(1), true, true},
		{"e2e_lora_s0.6_eulera15_cfg7.5", with(0.6), true, false},
		{"e2e_lora_fused0.6_eulera15_cfg7.5", with(0.6), true, false},
		{"e2e_base_eulera15_cfg7.5", base, true, false}, // the LoRA is gone again
	} {
		t.Run(rr.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, rr.portable)
			checkReferenceRun(t, p, loraDir, rr)
		})
	}
}

// TestSDXLLoRAReferenceRuns: the kohya SDXL LoRA (SGM names, both text
// encoders) at strength 1 from both layouts, and 0.7 at run time and
// against diffusers' fused run; the pooled embedding and size ids too.
func TestSDXLLoRAReferenceRuns(t *testing.T) {
	lf := openLoRA(t, sdxlLoRADir+"/sdxl-tiny-lora.safetensors")
	base := Request{Prompt: sdxlFox, Width: 128, Height: 128, Sampler: "euler", Schedule: "default", Steps: 10,
		CFGScale: 5, Seed: 1234, ClipSkip: 1}
	with := func(s float64) Request { r := base; r.LoRAs = []LoRA{{lf, s}}; return r }
	for _, layout := range sdxlLayouts {
		p := loadPipeline(t, layout.path)
		for _, rr := range []run{
			{"e2e_lora_s1.0_euler10_cfg5", with(1), true, true},
			{"e2e_lora_s0.7_euler10_cfg5", with(0.7), true, false},
			{"e2e_lora_fused0.7_euler10_cfg5", with(0.7), true, false},
			{"e2e_base_euler10_cfg5", base, true, false},
		} {
			if layout.name != "folder" && rr.name != "e2e_lora_s1.0_euler10_cfg5" {
				continue
			}
			t.Run(layout.name+"/"+rr.name, func(t *testing.T) {
				refcheck.SkipOnPortable(t, rr.portable)
				f, err := safetensors.Open(sdxlLoRADir + "/" + rr.name + ".safetensors")
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := p.loras.with(rr.req.LoRAs, func() error {
					checkAddedConditioning(t, p, f, rr.req)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				checkReferenceRun(t, p, sdxlLoRADir, rr)
			})
		}
	}
}

// TestLoRAStrengthsAddUp: two LoRAs add their updates: the same file twice
// at 0.3 gives the run at 0.6 (up to rounding).
func TestLoRAStrengthsAddUp(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-diffusers")
	lf := openLoRA(t, loraDir+"/sd1-tiny-lora.safetensors")
	req := Request{Prompt: "sunset, oil painting", NegativeGiven: true, Width: 128, Height: 128, Sampler: "euler_a",
		Schedule: "default", Steps: 15, CFGScale: 7.5, Seed: 1234, ClipSkip: 1, LoRAs: []LoRA{{lf, 0.3}, {lf, 0.3}}}
	img, err := p.Generate(t.Context(), req, nil)
	if err != nil {
		t.Fatal(err)
	}
	refcheck.ImageWithin(t, img, loraDir+"/e2e_lora_s0.6_eulera15_cfg7.5.png", pngMaxLevel, pngMaxFraction)
}

// TestMergedLoRAReferenceRuns: with MergeLoRAs the LoRA is added into
// copies of the weights, as diffusers' fuse_lora does: the fused
// references at 0.6 (SD 1.x) and 0.7 (SDXL), then the plain model again.
func TestMergedLoRAReferenceRuns(t *testing.T) {
	for _, c := range []struct {
		model, dir, file string
		req              Request
		fused, base      string
		scale            float64
	}{
		{"../../testdata/model-diffusers", loraDir, "sd1-tiny-lora.safetensors",
			Request{Prompt: "sunset, oil painting", NegativeGiven: true, Width: 128, Height: 128, Sampler: "euler_a",
				Schedule: "default", Steps: 15, CFGScale: 7.5, Seed: 1234, ClipSkip: 1},
			"e2e_lora_fused0.6_eulera15_cfg7.5", "e2e_base_eulera15_cfg7.5", 0.6},
		{sdxlDir + "/sdxl-tiny.fp16.safetensors", sdxlLoRADir, "sdxl-tiny-lora.safetensors",
			Request{Prompt: sdxlFox, Width: 128, Height: 128, Sampler: "euler", Schedule: "default", Steps: 10, CFGScale: 5, Seed: 1234, ClipSkip: 1},
			"e2e_lora_fused0.7_euler10_cfg5", "e2e_base_euler10_cfg5", 0.7},
	} {
		t.Run(c.fused, func(t *testing.T) {
			m, err := model.Load(c.model, model.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			p, err := New(m, Options{MergeLoRAs: true})
			if err != nil {
				t.Fatal(err)
			}
			withLoRA := c.req
			withLoRA.LoRAs = []LoRA{{openLoRA(t, c.dir+"/"+c.file), c.scale}}
			checkReferenceRun(t, p, c.dir, run{c.fused, withLoRA, true, false})
			checkReferenceRun(t, p, c.dir, run{c.base, c.req, true, false})
		})
	}
}

// TestPEFTFormatLoRA: the fixture LoRA renamed to diffusers / PEFT keys
// ("unet.<module>.lora_A.weight", "text_encoder.<module>.lora_B.weight",
// "<component>.<module>.alpha") binds to the same layers and gives the
// kohya file's reference image.
func TestPEFTFormatLoRA(t *testing.T) {
	refcheck.SkipOnPortable(t, false)
	kohya := openLoRA(t, loraDir+"/sd1-tiny-lora.safetensors")
	var ref struct {
		ModulesList []struct{ Kohya, Component, Module string } `json:"modules_list"`
	}
	readJSON(t, loraDir+"/lora_keys.json", &ref)
	byKey := map[string]*lora.Module{}
	for _, m := range kohya.Modules {
		byKey[m.Key] = m
	}
	tensors, shapes := map[string][]float32{}, map[string][]int{}
	for _, e := range ref.ModulesList {
		m := byKey[e.Kohya]
		name := e.Component + "." + e.Module
		tensors[name+".lora_A.weight"], shapes[name+".lora_A.weight"] = m.Down, m.DownShape
		tensors[name+".lora_B.weight"], shapes[name+".lora_B.weight"] = m.Up, m.UpShape
		tensors[name+".alpha"], shapes[name+".alpha"] = []float32{float32(m.Alpha)}, []int{}
	}
	path := t.TempDir() + "/peft.safetensors"
	writeF32Safetensors(t, path, tensors, shapes)
	peft := openLoRA(t, path)
	if peft.Format != lora.PEFT || len(peft.Modules) != len(kohya.Modules) {
		t.Fatalf("format %s, %d modules", peft.Format, len(peft.Modules))
	}
	p := loadPipeline(t, "../../testdata/model-diffusers")
	req := Request{Prompt: "sunset, oil painting", NegativeGiven: true, Width: 128, Height: 128, Sampler: "euler_a",
		Schedule: "default", Steps: 15, CFGScale: 7.5, Seed: 1234, ClipSkip: 1, LoRAs: []LoRA{{peft, 1}}}
	checkReferenceRun(t, p, loraDir, run{"e2e_lora_s1.0_eulera15_cfg7.5", req, true, false})
}
