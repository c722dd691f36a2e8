package main

import (
	"bytes"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/pngout"
	"github.com/imggen/imggen/internal/refcheck"
)

func TestInfo(t *testing.T) {
	r := runFake(t, withModel, "a red fox, at night", "-n", "blurry", "--seed", "3", "--steps", "5", "-o", "fox.png", "-q")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	fox := filepath.Join(r.dir, "fox.png")
	plain := filepath.Join(r.dir, "plain.png")
	if err := pngout.Write(plain, image.NewRGBA(image.Rect(0, 0, 8, 8)), ""); err != nil {
		t.Fatal(err)
	}
	r = runFake(t, runOpts{}, "info", fox)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "a red fox, at night\nNegative prompt: blurry\nSteps: 5, ") {
		t.Errorf("info: exit %d, %q", r.code, r.stdout)
	}
	r = runFake(t, runOpts{}, "info", "--json", fox, plain)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var rec infoRecord
	if r.code != exitFailure || len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &rec) != nil ||
		rec.Prompt != "a red fox, at night" || rec.Settings["Seed"] != "3" || !strings.Contains(lines[1], "no parameters") {
		t.Errorf("info --json: exit %d, %q %+v", r.code, r.stdout, rec)
	}
}

// TestReproduce: reproduce makes the same request from a PNG's settings,
// the user's flags overriding them, from imggen's PNGs and AUTOMATIC1111's.
func TestReproduce(t *testing.T) {
	args := []string{"a castle", "-n", "fog", "--sampler", "ddim", "--eta", "0.5", "--steps", "7", "--cfg-scale", "5.5",
		"--seed", "11", "-W", "72", "-H", "40", "--clip-skip", "2", "--timestep-spacing", "trailing", "--prediction", "v",
		"--long-prompts", "chunk", "-o", "first.png", "-q"}
	first := runFake(t, withModel, args...)
	if first.code != exitOK {
		t.Fatalf("exit %d: %s", first.code, first.stderr)
	}
	png := filepath.Join(first.dir, "first.png")
	again := runFake(t, withModel, "reproduce", png, "-o", "again.png", "-q")
	if again.code != exitOK || len(again.gen.reqs) != 1 || !sameRequest(again.gen.reqs[0], first.gen.reqs[0]) {
		t.Fatalf("exit %d: %s\n got %+v\nwant %+v", again.code, again.stderr, again.gen.reqs, first.gen.reqs)
	}
	b1, _ := os.ReadFile(png)
	b2, _ := os.ReadFile(filepath.Join(again.dir, "again.png"))
	if !bytes.Equal(b1, b2) {
		t.Error("the reproduced file differs")
	}
	if r := runFake(t, withModel, "reproduce", png, "--seed", "5", "-q"); r.code != exitOK || r.gen.reqs[0].Seed != 5 {
		t.Errorf("override: exit %d, %+v", r.code, r.gen.reqs)
	}

	// AUTOMATIC1111's text, and its sampler names.
	for _, tc := range []struct{ sampler, want, schedule string }{
		{"DPM++ 2M Karras", "dpmpp_2m", "karras"}, {"DPM++ 2M", "dpmpp_2m", "default"}, {"Euler a", "euler_a", "default"},
	} {
		a1111 := filepath.Join(t.TempDir(), "a.png")
		text := "-a fox\nSteps: 9, Sampler: " + tc.sampler + ", CFG scale: 7, Seed: 1234, Size: 64x48, Model hash: 0123456789, Model: v1-5, Version: v1.6.0"
		if err := pngout.Write(a1111, image.NewRGBA(image.Rect(0, 0, 64, 48)), text); err != nil {
			t.Fatal(err)
		}
		r := runFake(t, withModel, "reproduce", a1111, "-q")
		if r.code != exitOK || len(r.gen.reqs) != 1 {
			t.Fatalf("%s: exit %d: %s", tc.sampler, r.code, r.stderr)
		}
		q := r.gen.reqs[0]
		if q.Prompt != "-a fox" || q.Sampler != tc.want || q.Schedule != tc.schedule || q.Steps != 9 || q.Seed != 1234 || q.Width != 64 {
			t.Errorf("%s: %+v", tc.sampler, q)
		}
	}

	// An img2img picture needs its init image; a missing PNG is an error.
	img2img := filepath.Join(t.TempDir(), "i.png")
	text := "x\nSteps: 9, Sampler: DDIM, CFG scale: 7, Seed: 1, Size: 64x48, Denoising strength: 0.5"
	if err := pngout.Write(img2img, image.NewRGBA(image.Rect(0, 0, 64, 48)), text); err != nil {
		t.Fatal(err)
	}
	if r := runFake(t, withModel, "reproduce", img2img); r.code != exitUsage || !strings.Contains(r.stderr, "-i FILE") {
		t.Errorf("img2img without -i: exit %d: %s", r.code, r.stderr)
	}
	if r := runFake(t, withModel, "reproduce"); r.code != exitUsage {
		t.Errorf("no PNG: exit %d", r.code)
	}
}

// sameRequest compares the settings of two text-to-image requests.
func sameRequest(a, b pipeline.Request) bool {
	a.InitImage, a.Mask, b.InitImage, b.Mask = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}

// TestReproduceReferenceRuns: for every seeded SD 1.x reference run,
// reproducing imggen's PNG with the same model gives the same bytes; with
// another model it warns.
func TestReproduceReferenceRuns(t *testing.T) {
	model, other := fixture(t, "model-fp16/sd1-tiny.fp16.safetensors"), fixture(t, "model-diffusers")
	sd2, initImg := fixture(t, "sd2/sd2-tiny.fp16.safetensors"), fixture(t, "e2e/img2img_init.png")
	t.Chdir(t.TempDir())
	runs := [][]string{
		{"--sampler", "ddim", "--steps", "10", "--seed", "42"},
		{"--sampler", "ddim", "--steps", "10", "--seed", "42", "--cfg-scale", "1"},
		{"--sampler", "pndm", "--steps", "20", "--seed", "7"},
		{"--sampler", "euler_a", "--steps", "20", "--seed", "123"},
		{"--sampler", "dpmpp_2m", "--steps", "15", "--seed", "2024", "--cfg-scale", "5", "-H", "96", "-n", "blurry, low quality"},
		{"--sampler", "ddpm", "--steps", "25", "--seed", "5"},
		{"--sampler", "euler", "--steps", "20", "--seed", "99", "--clip-skip", "2"},
	}
	for i, args := range runs {
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			refcheck.SkipOnPortable(t, i == 0)
			reproduceSame(t, model, args, nil)
		})
	}
	// An img2img run (its init image given again) and SD 2.x runs, one with
	// Turbo's settings (trailing spacing, cfg 0), which the metadata must hold.
	t.Run("img2img", func(t *testing.T) {
		refcheck.SkipOnPortable(t, false)
		reproduceSame(t, model, []string{"--sampler", "euler_a", "--steps", "20", "--seed", "750", "-n", "blurry", "-i", initImg, "--strength", "0.75"},
			[]string{"-i", initImg})
	})
	t.Run("sd2 turbo", func(t *testing.T) {
		refcheck.SkipOnPortable(t, false)
		reproduceSame(t, sd2, []string{"--sampler", "euler", "--timestep-spacing", "trailing", "--prediction", "eps", "--steps", "1", "--seed", "1234", "--cfg-scale", "0"}, nil)
	})
	t.Run("sd2 dpmpp_2m", func(t *testing.T) {
		refcheck.SkipOnPortable(t, false)
		reproduceSame(t, sd2, []string{"--sampler", "dpmpp_2m", "--schedule", "karras", "--steps", "12", "--seed", "90210", "--cfg-scale", "5", "-H", "112", "-n", "blurry, overexposed"}, nil)
	})
	var stdout, stderr bytes.Buffer
	if code := run([]string{"reproduce", "first.png", "-m", other, "-o", "other.png"}, strings.NewReader(""), &stdout, &stderr); code != exitOK ||
		!strings.Contains(stderr.String(), "it will not come out the same") {
		t.Errorf("other model: exit %d, stderr %q", code, stderr.String())
	}
}

// reproduceSame makes a picture, reproduces it from its PNG and compares
// the bytes.
func reproduceSame(t *testing.T, model string, args, again []string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	first := append([]string{"sunset, oil painting", "-m", model, "-W", "128", "-H", "128", "-o", "first.png", "-q"}, args...)
	if code := run(first, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
	}
	if code := run(append([]string{"reproduce", "first.png", "-m", model, "-o", "again.png"}, again...), strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("%v: reproduce: exit %d: %s", args, code, stderr.String())
	}
	b1, _ := os.ReadFile("first.png")
	b2, _ := os.ReadFile("again.png")
	if !bytes.Equal(b1, b2) || strings.Contains(stderr.String(), "hash") {
		t.Errorf("%v: same model: equal bytes %v, stderr %q", args, bytes.Equal(b1, b2), stderr.String())
	}
}

func TestInspectPNG(t *testing.T) {
	if r := runFake(t, runOpts{}, "inspect", "out.png"); r.code != exitUsage || !strings.Contains(r.stderr, "imggen info out.png") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
}

// TestPrecisionFlag: --precision bf16 reaches the request, the PNG's
// parameters, the JSON record and a reproduction where the CPU has AVX-512
// BF16, and is a usage error (exit 2, before loading) where it has not; a
// misspelt precision is always one.
func TestPrecisionFlag(t *testing.T) {
	if r := runFake(t, withModel, "a", "--precision", "fp16"); r.code != exitUsage || !strings.Contains(r.stderr, "--precision must be one of fp32, bf16, fp32-winograd") {
		t.Errorf("fp16: exit %d: %s", r.code, r.stderr)
	}
	w := runFake(t, withModel, "a fox", "--precision", "fp32-winograd", "-o", "w.png", "--json", "-q")
	if w.code != exitOK || w.gen.reqs[0].Precision != "fp32-winograd" || !strings.Contains(w.stdout, `"precision":"fp32-winograd"`) {
		t.Fatalf("winograd: exit %d, %+v, %s %s", w.code, w.gen.reqs, w.stdout, w.stderr)
	}
	if again := runFake(t, withModel, "reproduce", filepath.Join(w.dir, "w.png"), "-q"); again.code != exitOK || again.gen.reqs[0].Precision != "fp32-winograd" {
		t.Errorf("reproduce winograd: exit %d, %+v", again.code, again.gen.reqs)
	}
	r := runFake(t, withModel, "a fox", "--precision", "bf16", "-o", "fox.png", "--json", "-q")
	if !pipeline.NativeBF16() {
		if r.code != exitUsage || !strings.Contains(r.stderr, "AVX-512 BF16") || r.loads != 0 {
			t.Errorf("bf16 without the CPU support: exit %d, %d loads: %s", r.code, r.loads, r.stderr)
		}
		return
	}
	if r.code != exitOK || r.gen.reqs[0].Precision != "bf16" || !strings.Contains(r.stdout, `"precision":"bf16"`) {
		t.Fatalf("exit %d, requests %+v, stdout %s, stderr %s", r.code, r.gen.reqs, r.stdout, r.stderr)
	}
	png := filepath.Join(r.dir, "fox.png")
	info := runFake(t, withModel, "info", png)
	if !strings.Contains(info.stdout, "Precision: bf16") {
		t.Errorf("parameters lack the precision:\n%s", info.stdout)
	}
	again := runFake(t, withModel, "reproduce", png, "-q")
	if again.code != exitOK || again.gen.reqs[0].Precision != "bf16" {
		t.Errorf("reproduce: exit %d, %+v", again.code, again.gen.reqs)
	}
	if plain := runFake(t, withModel, "a fox", "--json", "-q"); strings.Contains(plain.stdout, "precision") || plain.gen.reqs[0].Precision != "" {
		t.Errorf("default run records a precision: %s", plain.stdout)
	}
}
