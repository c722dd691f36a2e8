package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
	"github.com/imggen/imggen/internal/refcheck"
)

// sdxlShare is the PNG bar of the SDXL runs (1 level in at most 0.5% of
// the values, the bar); measured at most 0.037%.
const sdxlShare = 0.005

const (
	sdxlFox    = "a red fox sitting in a snowy forest, morning light"
	sdxlCastle = "an isometric pixel-art castle on a floating island"
)

// TestSDXLReferenceImages runs `imggen` on the sdxl-tiny model
// (testdata/sdxl) for every seeded SDXL reference run, through the diffusers
// folder and through the float16 single file: no negative prompt (zeros),
// a negative prompt at 128x96, size conditioning different from the
// picture, SDXL-Turbo-style 1 and 4 steps, and img2img at strength 0.6.
func TestSDXLReferenceImages(t *testing.T) {
	runs := []struct {
		run    string
		prompt string
		args   []string
	}{
		{"e2e_euler20_cfg5", sdxlFox, []string{"--sampler", "euler", "--steps", "20", "--seed", "42", "--cfg-scale", "5"}},
		{"e2e_dpmpp2mkarras15_cfg6_w128h96", sdxlCastle, []string{"--sampler", "dpmpp_2m", "--schedule", "karras", "--steps", "15",
			"--seed", "2024", "--cfg-scale", "6", "-H", "96", "-n", "blurry, low quality"}},
		{"e2e_eulera12_cfg7_condsizes", sdxlFox, []string{"--sampler", "euler_a", "--steps", "12", "--seed", "123", "--cfg-scale", "7",
			"-n", "lowres, watermark", "--original-size", "384x512", "--crop-coords", "32,16", "--target-size", "256x256"}},
		{"e2e_turbo_eulera1_cfg0", sdxlCastle, []string{"--sampler", "euler_a", "--timestep-spacing", "trailing", "--steps", "1",
			"--seed", "7", "--cfg-scale", "0"}},
		{"e2e_turbo_eulera4_cfg0", sdxlCastle, []string{"--sampler", "euler_a", "--timestep-spacing", "trailing", "--steps", "4",
			"--seed", "7", "--cfg-scale", "0"}},
		{"e2e_img2img_euler20_s0.6_cfg5", sdxlFox, []string{"--sampler", "euler", "--steps", "20", "--seed", "606", "--cfg-scale", "5",
			"-n", "blurry", "--strength", "0.6", "-i", "sdxl/img2img_init.png"}},
	}
	for _, model := range []string{"sdxl/model", "sdxl/sdxl-tiny.fp16.safetensors"} {
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
				if !strings.Contains(tc.run, "h96") {
					args = append(args, "-H", "128")
				}
				var stdout, stderr bytes.Buffer
				if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				assertMatchesReference(t, out, fixture(t, filepath.Join("sdxl", tc.run+".png")), sdxlShare)
			})
		}
	}
}

// TestSDXLNegativePromptGiven: for SDXL, no -n means zeros for the
// unconditional pass and -n "" the encoding of "" (diffusers'
// force_zeros_for_empty_prompt). The two pictures differ, the PNG says
// which it was, and reproduce makes each again byte for byte; size
// conditioning is recorded and reproduced too.
func TestSDXLNegativePromptGiven(t *testing.T) {
	model := fixture(t, "sdxl/sdxl-tiny.fp16.safetensors")
	t.Chdir(t.TempDir())
	base := []string{"--sampler", "euler", "--steps", "3", "--seed", "42", "--cfg-scale", "5", "-W", "64", "-H", "64"}
	var stdout, stderr bytes.Buffer
	mk := func(out string, extra ...string) []byte {
		t.Helper()
		args := append(append([]string{sdxlFox, "-m", model, "-o", out, "-q"}, base...), extra...)
		if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	zeros, empty := mk("zeros.png"), mk("empty.png", "-n", "")
	a, _ := pngout.Load("zeros.png")
	b, _ := pngout.Load("empty.png")
	if d, err := pngout.Compare(a, b); err != nil || d.ValuesDiffering == 0 {
		t.Error(`no -n and -n "" gave the same picture`)
	}
	for _, c := range []struct {
		file string
		want bool
	}{{"zeros.png", false}, {"empty.png", true}} {
		text, err := pngout.ReadParameters(c.file)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(text, "\nNegative prompt: \n"); got != c.want {
			t.Errorf("%s: parameters %q: empty negative prompt line %v, want %v", c.file, text, got, c.want)
		}
	}
	sized := mk("sized.png", "-n", "", "--original-size", "384x512", "--crop-coords", "32,16", "--target-size", "256x256")
	for _, c := range []struct {
		file string
		want []byte
	}{{"zeros.png", zeros}, {"empty.png", empty}, {"sized.png", sized}} {
		again := "again-" + c.file
		if code := run([]string{"reproduce", c.file, "-m", model, "-o", again, "-q"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
			t.Fatalf("reproduce %s: exit %d: %s", c.file, code, stderr.String())
		}
		if got, _ := os.ReadFile(again); !bytes.Equal(got, c.want) {
			t.Errorf("reproduce %s: the bytes differ", c.file)
		}
	}
	text, _ := pngout.ReadParameters("sized.png")
	for _, want := range []string{"Original size: 384x512", `Crop top-left: "32,16"`, "Target size: 256x256"} {
		if !strings.Contains(text, want) {
			t.Errorf("parameters lack %q: %q", want, text)
		}
	}
}

// TestSDXLTurboRunsWithItsOwnScheduler is `imggen -m sdxl-turbo "..."
// --steps 1 --cfg-scale 0` with no sampler flags: a folder carrying
// SDXL-Turbo's scheduler (Euler ancestral, trailing spacing) must run with
// it and give the 1-step reference run.
func TestSDXLTurboRunsWithItsOwnScheduler(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sdxl-turbo")
	if err := os.CopyFS(dir, os.DirFS(fixture(t, "sdxl/model"))); err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Meta struct {
			Config map[string]any `json:"scheduler_config"`
		} `json:"meta"`
	}
	b, err := os.ReadFile(fixture(t, "sdxl/e2e_turbo_eulera1_cfg0.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	cfg := meta.Meta.Config
	cfg["_class_name"], cfg["timestep_spacing"] = "EulerAncestralDiscreteScheduler", "trailing"
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "scheduler", "scheduler_config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"inspect", dir}, strings.NewReader(""), &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "SDXL, turbo-like") {
		t.Errorf("inspect: exit %d: %s", code, stdout.String())
	}
	out := filepath.Join(t.TempDir(), "out.png")
	args := []string{sdxlCastle, "-m", dir, "-o", out, "-W", "128", "-H", "128", "--steps", "1", "--cfg-scale", "0", "--seed", "7"}
	if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "using sampler euler_a") {
		t.Errorf("stderr lacks the model's own sampler: %s", stderr.String())
	}
	assertMatchesReference(t, out, fixture(t, "sdxl/e2e_turbo_eulera1_cfg0.png"), sdxlShare)
}
