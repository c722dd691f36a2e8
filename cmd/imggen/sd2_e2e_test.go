package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
)

// TestSD2ReferenceImages runs `imggen` on the sd2-tiny model (testdata/sd2:
// v-prediction, OpenCLIP text tower padded with id 0, linear projections)
// for the seeded SD 2.x reference runs, through the diffusers folder and
// through the float16 single file with its yaml, and the SD-Turbo-style runs
// (guidance 0, trailing spacing, 1-4 steps; one with sd-turbo's exact
// scheduler configuration: Euler, trailing, epsilon).
func TestSD2ReferenceImages(t *testing.T) {
	const cabin = "a cozy wooden cabin in a snowy pine forest at night, warm light in the windows"
	const raccoon = "a cinematic shot of a raccoon wearing a tiny astronaut helmet"
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
		{"e2e_turbo_eulera1_cfg0", raccoon, []string{"--sampler", "euler_a", "--timestep-spacing", "trailing", "--steps", "1",
			"--seed", "1234", "--cfg-scale", "0"}},
		{"e2e_turbo_eulera4_cfg0", raccoon, []string{"--sampler", "euler_a", "--timestep-spacing", "trailing", "--steps", "4",
			"--seed", "4321", "--cfg-scale", "0"}},
		{"e2e_turbo_euler1_cfg0_sdturbocfg", raccoon, []string{"--sampler", "euler", "--timestep-spacing", "trailing",
			"--prediction", "eps", "--steps", "1", "--seed", "1234", "--cfg-scale", "0"}},
		{"e2e_img2img_turbo_eulera2_s0.5_cfg0", raccoon, []string{"--sampler", "euler_a", "--timestep-spacing", "trailing",
			"--steps", "2", "--seed", "55", "--cfg-scale", "0", "--strength", "0.5", "-i", "sd2/img2img_init.png"}},
	}
	for _, model := range []string{"sd2/model", "sd2/sd2-tiny.fp16.safetensors"} {
		for i, tc := range runs {
			t.Run(tc.run+"/"+filepath.Base(model), func(t *testing.T) {
				refcheck.SkipOnPortable(t, i == 0) // portable build: one run per layout
				out := filepath.Join(t.TempDir(), "out.png")
				extra := append([]string(nil), tc.args...)
				for i, a := range extra {
					if a == "-i" {
						extra[i+1] = fixture(t, extra[i+1])
					}
				}
				args := append([]string{tc.prompt, "-m", fixture(t, model), "-o", out, "--quiet", "-W", "128"}, extra...)
				if !strings.Contains(tc.run, "h112") {
					args = append(args, "-H", "128")
				}
				var stdout, stderr bytes.Buffer
				if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				assertMatchesReference(t, out, fixture(t, filepath.Join("sd2", tc.run+".png")), sd2Share)
			})
		}
	}
}

// TestTurboModelRunsWithItsOwnScheduler is `imggen -m sd-turbo "..." --steps 1
// --cfg-scale 0` with no sampler flags: a model folder carrying sd-turbo's
// own scheduler_config.json (EulerDiscreteScheduler, trailing, epsilon) must
// be run with Euler, giving the reference run made with that configuration.
func TestTurboModelRunsWithItsOwnScheduler(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sd-turbo")
	if err := os.CopyFS(dir, os.DirFS(fixture(t, "sd2/model"))); err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Meta struct {
			Turbo struct {
				Config json.RawMessage `json:"sd_turbo_scheduler_config"`
			} `json:"turbo"`
		} `json:"meta"`
	}
	b, err := os.ReadFile(fixture(t, "sd2/e2e_turbo_euler1_cfg0_sdturbocfg.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scheduler", "scheduler_config.json"), meta.Meta.Turbo.Config, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.png")
	var stdout, stderr bytes.Buffer
	args := []string{"a cinematic shot of a raccoon wearing a tiny astronaut helmet", "-m", dir, "-o", out,
		"--steps", "1", "--cfg-scale", "0", "--seed", "1234", "-n", "ignored"}
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, note := range []string{"using sampler euler", "negative prompt is not used"} {
		if !strings.Contains(stderr.String(), note) {
			t.Errorf("stderr lacks %q: %s", note, stderr.String())
		}
	}
	assertMatchesReference(t, out, fixture(t, "sd2/e2e_turbo_euler1_cfg0_sdturbocfg.png"), sd2Share)
}
