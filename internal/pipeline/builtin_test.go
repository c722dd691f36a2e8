package pipeline

import (
	"encoding/json"
	"testing"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/unet"
)

// builtinTol bounds the difference between this engine and the trainer's
// own PyTorch networks (train/models.py, float32 on the float16 weights) on
// testdata/builtin/reference.safetensors, as for the Stable Diffusion
// fixtures: the stages differ only by float32 rounding. About 5x the worst
// measured on any kernel set, per stage.
var builtinTol = map[string]float64{
	"text":       7e-6,   // measured 1.4e-6
	"unet":       1.7e-5, // measured 3.3e-6
	"vae decode": 5.5e-5, // measured 1.1e-5
	"vae mean":   2e-5,   // measured 3.7e-6
	"vae logvar": 5e-5,   // measured 1.05e-5
}

// TestBuiltinMatchesTrainer checks every stage of the built-in model, loaded
// from the binary by the same path as any diffusers folder, against the
// trainer's reference tensors (written by train/export_reference.py).
func TestBuiltinMatchesTrainer(t *testing.T) {
	p := loadPipeline(t, model.Builtin)
	f, err := safetensors.Open("../../testdata/builtin/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	get := func(name string) *tensor.Tensor {
		in, ok := f.Info(name)
		if !ok {
			t.Fatalf("reference lacks %s", name)
		}
		return tensor.From(fixtureTensor(t, f, name), in.Shape...)
	}
	check := func(stage string, got, want *tensor.Tensor) {
		t.Helper()
		if !tensor.SameShape(got.Shape, want.Shape) {
			t.Fatalf("%s: shape %v, want %v", stage, got.Shape, want.Shape)
		}
		tol, ok := builtinTol[stage]
		if !ok {
			t.Fatalf("no tolerance for stage %q", stage)
		}
		refcheck.Within(t, stage, got.Data, want.Data, tol)
	}

	// The prompts' ids: our tokenizer must give the trainer's.
	var prompts []string
	if err := json.Unmarshal([]byte(f.Metadata()["prompts"]), &prompts); err != nil {
		t.Fatal(err)
	}
	idsT := get("text.ids")
	tok := p.Tokenizer()
	ids := make([][]int, len(prompts))
	for i, pr := range prompts {
		ids[i] = tok.Encode(pr).IDs
		for j, id := range ids[i] {
			if float32(id) != idsT.Data[i*len(ids[i])+j] {
				t.Fatalf("prompt %q: token %d is %d, reference %v", pr, j, id, idsT.Data[i*len(ids[i])+j])
			}
		}
	}

	ctx, err := p.TextModel().Encode(ids, 1)
	if err != nil {
		t.Fatal(err)
	}
	check("text", ctx, get("text.out"))

	ts := get("unet.t")
	steps := make([]float64, len(ts.Data))
	for i, v := range ts.Data {
		steps[i] = float64(v)
	}
	out, err := p.UNet().Forward(get("unet.sample"), steps, unet.Conditioning{Text: get("text.out")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("unet", out, get("unet.out"))

	check("vae decode", p.VAE().Decode(p.VAE().Scale(get("vae.z"))), get("vae.decoded"))
	mean, logvar := p.VAE().Encode(get("vae.image"))
	check("vae mean", mean, get("vae.mean"))
	check("vae logvar", logvar, get("vae.logvar"))
}
