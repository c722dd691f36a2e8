package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
)

// fixture returns the absolute path of a test model (tests change directory).
func fixture(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return p
}

// TestRealGeneration runs the real loader and pipeline on the tiny fixture
// models (random weights, so only the plumbing is checked, not the picture).
func TestRealGeneration(t *testing.T) {
	tests := []struct {
		name, model string
		args        []string
		w, h        int
		wantModel   string
	}{
		{"diffusers folder, native size", "model-diffusers", nil, 128, 128, "Model: model-diffusers"},
		{"single file", "model-fp16/sd1-tiny.fp16.safetensors", []string{"-W", "64", "-H", "64", "-n", "blurry"}, 64, 64, "Model: sd1-tiny.fp16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := fixture(t, tc.model)
			t.Chdir(t.TempDir())
			var stdout, stderr bytes.Buffer
			args := append([]string{"a red fox", "-m", model, "--steps", "2", "--seed", "42", "-o", "out/fox.png", "--json"}, tc.args...)
			if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			var rec imageRecord
			if err := json.Unmarshal(stdout.Bytes(), &rec); err != nil {
				t.Fatalf("%v: %q", err, stdout.String())
			}
			if rec.Path != "out/fox.png" || rec.Seed != 42 || rec.Width != tc.w || rec.Height != tc.h || len(rec.ModelHash) != 10 {
				t.Errorf("record %+v", rec)
			}
			data, err := os.ReadFile(rec.Path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != tc.w || cfg.Height != tc.h || data[25] != 2 {
				t.Errorf("PNG %dx%d colour type %d, want %dx%d RGB", cfg.Width, cfg.Height, data[25], tc.w, tc.h)
			}
			params, err := pngout.ParseParameters(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"a red fox\n", "Steps: 2, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42", "Model hash: " + rec.ModelHash, tc.wantModel} {
				if !strings.Contains(params, want) {
					t.Errorf("parameters %q lack %q", params, want)
				}
			}
		})
	}
}

func TestRealInspect(t *testing.T) {
	model := fixture(t, "model-fp16/sd1-tiny.fp16.safetensors")
	for _, args := range [][]string{{"inspect", model}, {"inspect", "--json", model}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		if stdout.Len() == 0 {
			t.Errorf("%v: no output", args)
		}
		if args[1] == "--json" && !json.Valid(stdout.Bytes()) {
			t.Errorf("inspect --json output is not JSON: %q", stdout.String())
		}
	}
}

// TestReplacedVAE: --vae with a file holding the model's own VAE weights
// (the folder's, in diffusers names) gives the same pixels, and the PNG and
// JSON record the replacement.
func TestReplacedVAE(t *testing.T) {
	model := fixture(t, "model-fp16/sd1-tiny.fp16.safetensors")
	vaeFile := fixture(t, "model-diffusers/vae/diffusion_pytorch_model.safetensors")
	t.Chdir(t.TempDir())
	var pix [][]byte
	for _, extra := range [][]string{nil, {"--vae", vaeFile}} {
		args := append([]string{"a red fox", "-m", model, "-W", "64", "-H", "64", "--steps", "2", "--seed", "3", "-o", "out.png", "--json"}, extra...)
		var stdout, stderr bytes.Buffer
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
			t.Fatalf("%v: exit %d: %s", extra, code, stderr.String())
		}
		var rec imageRecord
		if err := json.Unmarshal(stdout.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		params, err := pngout.ReadParameters("out.png")
		if err != nil {
			t.Fatal(err)
		}
		img, err := pngout.Load("out.png")
		if err != nil {
			t.Fatal(err)
		}
		pix = append(pix, img.(*image.RGBA).Pix)
		named := strings.Contains(params, "VAE: diffusion_pytorch_model.safetensors")
		if replaced := extra != nil; named != replaced || (rec.VAE != "") != replaced {
			t.Errorf("%v: parameters %q, JSON vae %q", extra, params, rec.VAE)
		}
	}
	if !bytes.Equal(pix[0], pix[1]) {
		t.Error("the same VAE weights from a file gave other pixels")
	}
}
