package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/color/palette"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
	"github.com/imggen/imggen/internal/refcheck"
)

// encodePNG returns img as PNG bytes (a string, for withInputs).
func encodePNG(t *testing.T, img image.Image) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func rgbImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

func TestImageUsageErrors(t *testing.T) {
	rgb64 := encodePNG(t, rgbImage(64, 64))
	full := encodePNG(t, rgbImage(64, 64))
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  string
	}{
		{"strength zero", nil, []string{"a", "--strength", "0"}, "--strength must be greater than 0 and at most 1, got 0"},
		{"strength above one", nil, []string{"a", "--strength", "1.5"}, "--strength must be greater than 0 and at most 1, got 1.5"},
		{"strength NaN", nil, []string{"a", "--strength", "NaN"}, "--strength must be"},
		{"strength not a number", nil, []string{"a", "--strength", "x"}, `--strength must be a number, got "x"`},
		{"strength without init image", nil, []string{"a", "--strength", "0.5"}, "--strength needs an init image"},
		{"strength runs no step", map[string]string{"in.png": rgb64}, []string{"a", "-i", "in.png", "--steps", "2", "--strength", "0.4"}, "runs no step"},
		{"mask without init image", map[string]string{"m.png": rgb64}, []string{"a", "--mask", "m.png"}, "--mask needs an init image"},
		{"resize without init image", nil, []string{"a", "--resize"}, "--resize needs an init image"},
		{"init image missing", nil, []string{"a", "-i", "nope.png"}, "-i/--init-image: open nope.png"},
		{"init image not an image", map[string]string{"in.png": "hello"}, []string{"a", "-i", "in.png"}, "not a PNG or JPEG image"},
		{"init image truncated", map[string]string{"in.png": full[:len(full)/2]}, []string{"a", "--init-image", "in.png"}, "corrupt png image"},
		{"init image too large", map[string]string{"in.png": encodePNG(t, image.NewGray(image.Rect(0, 0, 4104, 8)))},
			[]string{"a", "-i", "in.png"}, "image is 4104x8; each side must be 1 to 4096 pixels"},
		{"init image too small", map[string]string{"in.png": encodePNG(t, rgbImage(4, 16))}, []string{"a", "-i", "in.png"}, "it must be at least 8x8"},
		{"size mismatch", map[string]string{"in.png": rgb64}, []string{"a", "-i", "in.png", "-W", "128", "-H", "128"},
			"the init image is 64x64 but the output is 128x128"},
		{"size not multiple of 8", map[string]string{"in.png": encodePNG(t, rgbImage(60, 64))}, []string{"a", "-i", "in.png"},
			"the init image is 60x64 but the output is 56x64"},
		{"mask size mismatch", map[string]string{"in.png": rgb64, "m.png": encodePNG(t, image.NewGray(image.Rect(0, 0, 64, 32)))},
			[]string{"a", "-i", "in.png", "--mask", "m.png"}, "the mask is 64x32 but the init image is 64x64"},
		{"mask corrupt", map[string]string{"in.png": rgb64, "m.png": "GIF89a"}, []string{"a", "-i", "in.png", "--mask", "m.png"}, "--mask: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runFake(t, withModel, withInputs(t, tc.files, tc.args)...)
			if r.code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, exitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", r.stderr, tc.want)
			}
			if r.loads != 0 {
				t.Errorf("model loaded %d times on a usage error", r.loads)
			}
			if got := files(t, r.dir); len(got) != 0 {
				t.Errorf("files written: %q", got)
			}
		})
	}
}

// TestImageInputs: the flags reach the request; any colour model the
// standard library decodes is accepted; the PNG records the strength.
func TestImageInputs(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 64, 48))
	pal := image.NewPaletted(image.Rect(0, 0, 64, 48), palette.Plan9)
	alpha := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for i := range alpha.Pix {
		alpha.Pix[i] = uint8(i)
	}
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, rgbImage(64, 48), nil); err != nil {
		t.Fatal(err)
	}
	mask := image.NewGray(image.Rect(0, 0, 64, 48))
	mask.SetGray(8, 8, color.Gray{Y: 255})
	tests := []struct {
		name   string
		files  map[string]string
		args   []string
		w, h   int
		strong float64
		mask   bool
	}{
		{"rgb png, size from image", map[string]string{"in.png": encodePNG(t, rgbImage(64, 48))}, []string{"-i", "in.png"}, 64, 48, 0.75, false},
		{"grey png", map[string]string{"in.png": encodePNG(t, gray)}, []string{"-i", "in.png", "--strength", "0.5"}, 64, 48, 0.5, false},
		{"palette png", map[string]string{"in.png": encodePNG(t, pal)}, []string{"-i", "in.png"}, 64, 48, 0.75, false},
		{"alpha png", map[string]string{"in.png": encodePNG(t, alpha)}, []string{"-i", "in.png"}, 64, 48, 0.75, false},
		{"jpeg", map[string]string{"in.jpg": jpg.String()}, []string{"-i", "in.jpg", "--strength", "1"}, 64, 48, 1, false},
		{"resize", map[string]string{"in.png": encodePNG(t, rgbImage(100, 30))}, []string{"-i", "in.png", "--resize", "-W", "64", "-H", "64"}, 64, 64, 0.75, false},
		{"resize rounds down", map[string]string{"in.png": encodePNG(t, rgbImage(70, 50))}, []string{"-i", "in.png", "--resize"}, 64, 48, 0.75, false},
		{"mask", map[string]string{"in.png": encodePNG(t, rgbImage(64, 48)), "m.png": encodePNG(t, mask)},
			[]string{"-i", "in.png", "--mask", "m.png", "--strength", "1"}, 64, 48, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"a fox", "-o", "out.png", "--seed", "1", "--steps", "4", "--json"}, tc.args...)
			r := runFake(t, withModel, withInputs(t, tc.files, args)...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			req := r.gen.reqs[0]
			if req.Width != tc.w || req.Height != tc.h || req.Strength != tc.strong || req.InitImage == nil || (req.Mask != nil) != tc.mask {
				t.Errorf("request %dx%d strength %g init %v mask %v", req.Width, req.Height, req.Strength, req.InitImage != nil, req.Mask != nil)
			}
			if want := []int{1, 3, tc.h, tc.w}; req.InitImage != nil && !equalInts(req.InitImage.Shape, want) {
				t.Errorf("init image shape %v, want %v", req.InitImage.Shape, want)
			}
			var rec imageRecord
			if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.Strength != tc.strong || rec.InitImage == "" {
				t.Errorf("json %q (%v)", r.stdout, err)
			}
			params, err := pngout.ReadParameters(filepath.Join(r.dir, "out.png"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "Denoising strength: " + formatStrength(tc.strong); !strings.Contains(params, want) {
				t.Errorf("parameters %q lack %q", params, want)
			}
		})
	}
}

func formatStrength(v float64) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReferenceImageRuns runs `imggen -i` (and --mask) itself for the
// img2img and inpaint reference runs of testdata/e2e (diffusers 0.27.2
// StableDiffusionImg2ImgPipeline / StableDiffusionInpaintPipeline on the
// 4-channel UNet, torch 1.13 CPU) and holds the PNGs to the bar.
// torch ran the VAE encoder with channels-last kernels, so our posterior
// differs by up to ~3e-5 here; that still leaves every run inside the bar
// (measured: at most 1 level in at most 0.13% of pixels). The per-step and
// stored-tensor checks are internal/pipeline's TestImageReferenceRuns.
func TestReferenceImageRuns(t *testing.T) {
	const land = "a watercolor landscape with a red sun over hills"
	tests := []struct {
		run    string
		prompt string
		args   []string
	}{
		{"e2e_img2img_ddim20_s0.6_cfg7.5", land, []string{"--sampler", "ddim", "--strength", "0.6", "--seed", "606"}},
		{"e2e_img2img_ddim20_s0.3_cfg7.5", land, []string{"--sampler", "ddim", "--strength", "0.3", "--seed", "303"}},
		{"e2e_img2img_eulera20_s0.75_cfg7.5", "sunset, oil painting", []string{"--sampler", "euler_a", "--strength", "0.75", "--seed", "750", "-n", "blurry"}},
		{"e2e_inpaint_ddim20_s1.0_cfg7.5", "a bright yellow flower", []string{"--sampler", "ddim", "--strength", "1", "--seed", "1010",
			"--mask", fixture(t, "e2e/inpaint_mask.png")}},
	}
	for i, tc := range tests {
		t.Run(tc.run, func(t *testing.T) {
			refcheck.SkipOnPortable(t, i == 0 || i == 3) // portable build: img2img and inpaint once
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{tc.prompt, "-m", fixture(t, "model-diffusers"), "-i", fixture(t, "e2e/img2img_init.png"),
				"--steps", "20", "--cfg-scale", "7.5", "-o", out, "--quiet"}, tc.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			assertMatchesReference(t, out, fixture(t, filepath.Join("e2e", tc.run+".png")), imageShare)
			params, err := pngout.ReadParameters(out)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(params, "Denoising strength: ") || !strings.Contains(params, "Size: 128x128") {
				t.Errorf("parameters %q", params)
			}
			_ = os.Remove(out)
		})
	}
}
