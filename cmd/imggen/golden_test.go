package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from this build")

// Golden images of the built-in model: what `imggen` with no model writes
// must stay what it wrote when the goldens were made. The bar allows the
// float32 rounding of other kernels (the purego build, AVX-512 against AVX2)
// that a 20-step sampler carries into the last bits of a few pixels, and
// nothing that a change of the model, sampler or pipeline would leave.
const (
	goldenMinPSNR  = 40 // dB over RGB
	goldenMaxLevel = 12 // largest 8-bit channel difference
)

func TestGoldenImages(t *testing.T) {
	tests := []struct {
		name   string
		prompt string
		args   []string
	}{
		{"sunset-sea-oil", "sunset over the sea, oil painting", []string{"--seed", "1"}},
		{"red-boat-eulera", "a red boat on the sea at sunset", []string{"--seed", "2", "--sampler", "euler_a"}},
		{"moon-mountains-ddim", "night sky with a full moon over mountains", []string{"--seed", "3", "--sampler", "ddim", "--steps", "25"}},
		{"blue-circle-cfg3", "a small blue circle in the top left of a desert at dawn, pixel art", []string{"--seed", "4", "--cfg-scale", "3"}},
		{"green-tree-pndm", "a green tree on a hill, watercolor", []string{"--seed", "5", "--sampler", "pndm"}},
		{"yellow-star-negative", "a yellow star at night over a lake", []string{"--seed", "6", "--sampler", "euler", "-n", "blue"}},
		{"purple-house-192x128", "a purple house in a grassy field in the daytime", []string{"--seed", "7", "-W", "192", "-H", "128"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if portableKernels && i >= 2 && !*update {
				// Two images check the portable kernels against the goldens;
				// the other settings are the same code on either kernel set.
				t.Skip("portable kernels: only the first two golden images")
			}
			t.Setenv(envModel, "")
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{tc.prompt, "-o", out, "--quiet"}, tc.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			golden := filepath.Join("..", "..", "testdata", "golden", tc.name+".png")
			if *update {
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			got, err := pngout.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pngout.Load(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/imggen -run TestGoldenImages -update to make it)", err)
			}
			d, err := pngout.Compare(got, want)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("PSNR %.1f dB, max level diff %d, %d of %d pixels differ", d.PSNR(), d.MaxLevel, d.PixelsDiffering, d.Pixels)
			if d.PSNR() < goldenMinPSNR || d.MaxLevel > goldenMaxLevel {
				t.Errorf("differs from %s: PSNR %.1f dB (min %d), max level %d (max %d)", golden, d.PSNR(), goldenMinPSNR, d.MaxLevel, goldenMaxLevel)
			}
		})
	}
}
