package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
)

// TestSD2ReferenceImages runs `imggen` on the sd2-tiny model (testdata/sd2:
// v-prediction, OpenCLIP text tower padded with id 0, linear projections)
// for the seeded SD 2.x reference runs, through the diffusers folder and
// through the float16 single file with its yaml. The SD-Turbo runs of the
// fixtures need timestep-spacing and prediction-type flags and are not here.
func TestSD2ReferenceImages(t *testing.T) {
	const cabin = "a cozy wooden cabin in a snowy pine forest at night, warm light in the windows"
	runs := []struct {
		run    string
		prompt string
		args   []string
	}{
		{"e2e_ddim12_cfg6", cabin, []string{"--sampler", "ddim", "--steps", "12", "--seed", "31", "--cfg-scale", "6",
			"-n", "lowres, jpeg artifacts, watermark"}},
		{"e2e_eulera15_cfg6", "Macro photo of a DEWDROP on a leaf, 100mm, f/2.8", []string{"--sampler", "euler_a", "--steps", "15",
			"--seed", "2718", "--cfg-scale", "6"}},
		{"e2e_dpmpp2mkarras12_cfg5_w128h112", cabin, []string{"--sampler", "dpmpp_2m", "--schedule", "karras", "--steps", "12",
			"--seed", "90210", "--cfg-scale", "5", "-H", "112", "-n", "blurry, overexposed"}},
	}
	for _, model := range []string{"sd2/model", "sd2/sd2-tiny.fp16.safetensors"} {
		for _, tc := range runs {
			t.Run(tc.run+"/"+filepath.Base(model), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out.png")
				args := append([]string{tc.prompt, "-m", fixture(t, model), "-o", out, "--quiet", "-W", "128"}, tc.args...)
				if !strings.Contains(tc.run, "h112") {
					args = append(args, "-H", "128")
				}
				var stdout, stderr bytes.Buffer
				if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				got, err := pngout.Load(out)
				if err != nil {
					t.Fatal(err)
				}
				want, err := pngout.Load(fixture(t, filepath.Join("sd2", tc.run+".png")))
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
			})
		}
	}
}
