package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
)

// The bar for a seeded run through the real command: the PNG differs
// from the reference implementation's by at most 1 level in at most 0.5% of
// pixels.
const (
	e2eMaxLevel    = 1
	e2eMaxFraction = 0.005
)

// TestReferenceImages runs `imggen` itself for every seeded reference run of
// testdata/e2e (diffusers 0.27.2 + torch 1.13 CPU, see the fixtures README)
// and compares the PNGs. The float16 single file widens to exactly the
// float32 folder's weights, so both layouts must give the reference image.
func TestReferenceImages(t *testing.T) {
	const prompt = "sunset, oil painting"
	tests := []struct {
		run   string
		model string
		args  []string
	}{
		{"e2e_ddim10_cfg7.5", "model-diffusers", []string{"--sampler", "ddim", "--steps", "10", "--seed", "42"}},
		{"e2e_ddim10_cfg1", "model-diffusers", []string{"--sampler", "ddim", "--steps", "10", "--seed", "42", "--cfg-scale", "1"}},
		{"e2e_pndm20_cfg7.5", "model-diffusers", []string{"--sampler", "pndm", "--steps", "20", "--seed", "7"}},
		{"e2e_eulera20_cfg7.5", "model-diffusers", []string{"--sampler", "euler_a", "--steps", "20", "--seed", "123"}},
		{"e2e_dpmpp2mkarras15_cfg5_w128h96", "model-diffusers", []string{"--sampler", "dpmpp_2m", "--schedule", "karras",
			"--steps", "15", "--seed", "2024", "--cfg-scale", "5", "-W", "128", "-H", "96", "-n", "blurry, low quality"}},
		{"e2e_ddpm25_cfg7.5", "model-diffusers", []string{"--sampler", "ddpm", "--steps", "25", "--seed", "5"}},
		{"e2e_euler20_cfg7.5_clipskip2_both", "model-diffusers", []string{"--sampler", "euler", "--steps", "20", "--seed", "99", "--clip-skip", "2"}},
		{"e2e_ddim10_cfg7.5", "model-fp16/sd1-tiny.fp16.safetensors", []string{"--sampler", "ddim", "--steps", "10", "--seed", "42", "-W", "128", "-H", "128"}},
		{"e2e_dpmpp2mkarras15_cfg5_w128h96", "model-fp16/sd1-tiny.fp16.safetensors", []string{"--sampler", "dpmpp_2m", "--schedule", "karras",
			"--steps", "15", "--seed", "2024", "--cfg-scale", "5", "-W", "128", "-H", "96", "-n", "blurry, low quality"}},
	}
	for i, tc := range tests {
		t.Run(tc.run+"/"+filepath.Base(tc.model), func(t *testing.T) {
			// The portable kernels: the first run of each checkpoint
			// (float32 folder, float16 single file).
			skipOnPortableKernels(t, i != 0 && i != 7)
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{prompt, "-m", fixture(t, tc.model), "-o", out, "--quiet"}, tc.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			assertMatchesReference(t, out, fixture(t, filepath.Join("e2e", tc.run+".png")))
		})
	}
}

// assertMatchesReference compares the PNG imggen wrote at out with the
// reference implementation's PNG at ref, to the bar.
func assertMatchesReference(t *testing.T, out, ref string) {
	t.Helper()
	got, err := pngout.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pngout.Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := pngout.Compare(got, want)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("max level diff %d, %d of %d pixels differ (%.3f%%)", d.MaxLevel, d.PixelsDiffering, d.Pixels, 100*d.Fraction())
	if d.MaxLevel > e2eMaxLevel || d.Fraction() > e2eMaxFraction {
		t.Errorf("PNG differs from the reference: max level %d, %.3f%% of pixels", d.MaxLevel, 100*d.Fraction())
	}
}
