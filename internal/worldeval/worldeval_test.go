package worldeval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/imggen/imggen/internal/world"
)

// renderGen is a perfect model: it renders the scene the prompt asks for
// (the held-out scene the eval prompt was made from), with the seed as the
// render seed. Prompts that are not eval prompts get a random scene's
// first caption attributes filled in from ParsePrompt where possible.
func renderGen(prompts []world.EvalPrompt) Generator {
	scenes := map[string]world.Scene{}
	for _, p := range prompts {
		scenes[p.Prompt] = p.Scene
	}
	type key struct {
		prompt string
		seed   int64
	}
	var mu sync.Mutex
	cache := map[key]image.Image{} // the picture does not depend on cfg
	return func(prompt string, seed int64, cfg float64) (image.Image, error) {
		mu.Lock()
		img, ok := cache[key{prompt, seed}]
		mu.Unlock()
		if ok {
			return img, nil
		}
		s, ok := scenes[prompt]
		if !ok {
			s = world.RandomTrain(rand.New(rand.NewPCG(uint64(seed), 1)))
		}
		img = world.Render(s, seed)
		mu.Lock()
		cache[key{prompt, seed}] = img
		mu.Unlock()
		return img, nil
	}
}

// noiseGen returns uniform noise.
func noiseGen(prompt string, seed int64, cfg float64) (image.Image, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), uint64(math.Float64bits(cfg))))
	img := image.NewRGBA(image.Rect(0, 0, world.Size, world.Size))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img, nil
}

// constGen returns the same picture for every seed of a prompt.
func constGen(prompts []world.EvalPrompt) Generator {
	r := renderGen(prompts)
	return func(prompt string, seed int64, cfg float64) (image.Image, error) {
		return r(prompt, 1, cfg)
	}
}

func smallConfig() Config {
	return Config{N: 24, PromptSeed: 3, CFGs: []float64{1, 7.5}, DefaultCFG: 7.5,
		DiversityPrompts: 4, Seeds: 3, ContactRows: 3, ContactCols: 2}
}

func TestRunFakeGenerators(t *testing.T) {
	c := smallConfig()
	prompts := world.EvalPrompts(c.N, c.PromptSeed)
	tests := []struct {
		name                 string
		gen                  Generator
		minTime, maxTime     float64 // time-of-day accuracy bounds
		minAccept, maxAccept float64
		zeroDiversity        bool
	}{
		{"render", renderGen(prompts), 0.9, 1, 0.8, 1, false},
		{"noise", noiseGen, 0, 0.5, 0, 0.1, false},
		{"identical", constGen(prompts), 0.9, 1, 0.8, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Run(tc.gen, c)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Adherence) != len(c.CFGs) || len(res.Diversity) != len(c.CFGs) {
				t.Fatalf("got %d adherence and %d diversity rows, want %d", len(res.Adherence), len(res.Diversity), len(c.CFGs))
			}
			for _, a := range res.Adherence {
				var lines []string
				for _, s := range a.Attrs {
					lines = append(lines, s.Attr+" "+pct(s.Accuracy))
				}
				t.Logf("cfg %g: %s; accepted %s", a.CFG, strings.Join(lines, ", "), pct(a.AcceptedShare))
				if a.Images != c.N {
					t.Errorf("cfg %g: %d images, want %d", a.CFG, a.Images, c.N)
				}
				tm := a.Attr("time")
				if tm.Asked != c.N {
					t.Errorf("time asked %d times, want %d (every eval prompt names it)", tm.Asked, c.N)
				}
				if tm.Accuracy < tc.minTime || tm.Accuracy > tc.maxTime {
					t.Errorf("cfg %g: time accuracy %.2f, want in [%.2f, %.2f]", a.CFG, tm.Accuracy, tc.minTime, tc.maxTime)
				}
				if a.AcceptedShare < tc.minAccept || a.AcceptedShare > tc.maxAccept {
					t.Errorf("cfg %g: accepted %.2f, want in [%.2f, %.2f]", a.CFG, a.AcceptedShare, tc.minAccept, tc.maxAccept)
				}
			}
			for _, d := range res.Diversity {
				if want := c.DiversityPrompts * c.Seeds * (c.Seeds - 1) / 2; d.Pairs != want {
					t.Errorf("cfg %g: %d pairs, want %d", d.CFG, d.Pairs, want)
				}
				if tc.zeroDiversity != (d.MeanAbs == 0 && d.RMS == 0) {
					t.Errorf("cfg %g: diversity %.3f (RMS %.3f), zero wanted: %v", d.CFG, d.MeanAbs, d.RMS, tc.zeroDiversity)
				}
			}
			if got := len(res.Records); got != c.N*len(c.CFGs) {
				t.Errorf("%d records, want %d", got, c.N*len(c.CFGs))
			}
			b := res.ContactSheet.Bounds()
			if want := image.Rect(0, 0, 4+c.ContactCols*(world.Size+4), 4+c.ContactRows*(world.Size+4)); b != want {
				t.Errorf("contact sheet %v, want %v", b, want)
			}
		})
	}
}

// TestRealismRenderedIsFloor: a generator that renders held-out scenes is
// about as close to the rendered set as another rendered set; noise is far.
func TestRealism(t *testing.T) {
	c := smallConfig()
	c.N = 40
	prompts := world.EvalPrompts(c.N, c.PromptSeed)
	good, err := Run(renderGen(prompts), c)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := Run(noiseGen, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("render: %.3f, noise: %.3f, floor %.3f", good.Realism.GeneratedVsRender, bad.Realism.GeneratedVsRender, good.Realism.RenderVsRender)
	if good.Realism.RenderVsRender != bad.Realism.RenderVsRender {
		t.Errorf("the rendered floor depends on the generator: %g vs %g", good.Realism.RenderVsRender, bad.Realism.RenderVsRender)
	}
	if !(bad.Realism.GeneratedVsRender > 3*good.Realism.GeneratedVsRender) {
		t.Errorf("noise FD %.3f not well above rendered FD %.3f", bad.Realism.GeneratedVsRender, good.Realism.GeneratedVsRender)
	}
	if !(good.Realism.GeneratedVsRender < 2*good.Realism.RenderVsRender) {
		t.Errorf("rendered-prompt FD %.3f far above the floor %.3f", good.Realism.GeneratedVsRender, good.Realism.RenderVsRender)
	}
}

func TestPixelDistance(t *testing.T) {
	solid := func(v uint8, size int) image.Image {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		for i := range img.Pix {
			img.Pix[i] = v
		}
		return img
	}
	half := image.NewRGBA(image.Rect(0, 0, 2, 2)) // two white, two black pixels
	copy(half.Pix, []uint8{255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 255, 0, 0, 0, 255})
	tests := []struct {
		name      string
		a, b      image.Image
		mad, rms  float64
		wantError bool
	}{
		{"same", solid(7, 4), solid(7, 4), 0, 0, false},
		{"offset", solid(10, 4), solid(40, 4), 30, 30, false},
		{"half", half, solid(0, 2), 127.5, math.Sqrt(255 * 255 / 2.0), false},
		{"sizes", solid(0, 2), solid(0, 4), 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mad, rms, err := PixelDistance(tc.a, tc.b)
			if (err != nil) != tc.wantError {
				t.Fatalf("error %v, want error: %v", err, tc.wantError)
			}
			if math.Abs(mad-tc.mad) > 1e-9 || math.Abs(rms-tc.rms) > 1e-9 {
				t.Errorf("got %g, %g, want %g, %g", mad, rms, tc.mad, tc.rms)
			}
		})
	}
}

// TestDeterministicOutput: the same config gives byte-identical files,
// whether the images are made one at a time or by several workers.
func TestDeterministicOutput(t *testing.T) {
	c := smallConfig()
	c.N = 6
	prompts := world.EvalPrompts(c.N, c.PromptSeed)
	var files [2]map[string][]byte
	for i := range files {
		c.Workers = 1 + 2*i
		res, err := Run(renderGen(prompts), c)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := res.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		files[i] = map[string][]byte{}
		for _, name := range []string{"report.md", "report.json", "contact.png"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			files[i][name] = b
		}
	}
	for name, b := range files[0] {
		if !bytes.Equal(b, files[1][name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
	var raw map[string]any
	if err := json.Unmarshal(files[0]["report.json"], &raw); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(files[0]["contact.png"])); err != nil {
		t.Fatalf("contact.png: %v", err)
	}
	md := string(files[0]["report.md"])
	for _, want := range []string{"## Prompt adherence", "## Diversity", "## Realism", "## Contact sheet", "sunset over the sea, oil painting"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
	}{
		{"one prompt", func(c *Config) { c.N = 1 }},
		{"one seed", func(c *Config) { c.Seeds = 1 }},
		{"too many diversity prompts", func(c *Config) { c.DiversityPrompts = c.N + 1 }},
		{"bad cfg", func(c *Config) { c.CFGs = []float64{-1} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := smallConfig()
			tc.edit(&c)
			if _, err := Run(noiseGen, c); err == nil {
				t.Error("no error")
			}
		})
	}
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }
