package judge

import (
	"image"
	"image/color"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/world"
)

// heldOutSet renders n held-out scenes (seeds not used elsewhere) with
// their first, full caption.
func heldOutSet(n int) ([]world.Scene, []string, []*image.RGBA) {
	rng := rand.New(rand.NewPCG(20261126, 4242))
	var scenes []world.Scene
	var prompts []string
	var imgs []*image.RGBA
	for i := 0; i < n; i++ {
		s := world.RandomHeldOut(rng)
		scenes = append(scenes, s)
		prompts = append(prompts, world.Captions(s, rng, 1)[0])
		imgs = append(imgs, world.Render(s, int64(900000+i)))
	}
	return scenes, prompts, imgs
}

// TestValidation measures per-attribute accuracy on held-out renders. The
// first caption always names time, object, colour, ground and style, and
// sometimes position; every named attribute must be read back.
func TestValidation(t *testing.T) {
	n := 480
	if testing.Short() {
		n = 120
	}
	scenes, prompts, imgs := heldOutSet(n)
	type tally struct{ ok, total int }
	acc := map[string]*tally{}
	attrs := []string{"time", "object", "kind", "colour", "position", "ground", "style"}
	for _, a := range attrs {
		acc[a] = &tally{}
	}
	accepted := 0
	var fails []string
	for i, img := range imgs {
		r := Judge(img, prompts[i])
		for _, c := range r.Checks {
			acc[c.Attr].total++
			if c.OK {
				acc[c.Attr].ok++
			} else if len(fails) < 40 {
				fails = append(fails, c.Attr+": asked "+c.Asked+" seen "+c.Seen+" | "+prompts[i]+" | "+scenes[i].Light+" "+scenes[i].Relief)
			}
		}
		if r.Accepted() {
			accepted++
		}
	}
	sort.Strings(fails)
	for _, f := range fails {
		t.Log("miss:", f)
	}
	t.Logf("%-9s %8s %6s", "attribute", "accuracy", "n")
	for _, a := range attrs {
		tl := acc[a]
		if tl.total == 0 {
			continue
		}
		t.Logf("%-9s %7.1f%% %6d", a, 100*float64(tl.ok)/float64(tl.total), tl.total)
	}
	t.Logf("%-9s %7.1f%% %6d", "accepted", 100*float64(accepted)/float64(n), n)
	want := map[string]float64{"time": 0.95, "object": 0.90, "kind": 0.85, "colour": 0.90, "position": 0.85, "ground": 0.85, "style": 0.85}
	for a, w := range want {
		tl := acc[a]
		if tl.total == 0 {
			t.Errorf("%s never judged", a)
			continue
		}
		if got := float64(tl.ok) / float64(tl.total); got < w {
			t.Errorf("%s accuracy %.3f < %.2f", a, got, w)
		}
	}
}

// TestWrongPromptsFail: the same pictures judged against a prompt with a
// wrong time or a wrong colour must be rejected.
func TestWrongPromptsFail(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 100
	}
	scenes, prompts, imgs := heldOutSet(n)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, attr := range []string{"time", "colour"} {
		rejected := 0
		for i, img := range imgs {
			var p string
			if attr == "time" {
				wrong := scenes[i].Time
				for wrong == scenes[i].Time {
					wrong = world.Times[rng.IntN(len(world.Times))]
				}
				p = "a " + scenes[i].Colour + " " + scenes[i].Kind + " at " + wrong
				if wrong == "day" {
					p = "a " + scenes[i].Colour + " " + scenes[i].Kind + " during the day"
				}
			} else {
				wrong := scenes[i].Colour
				for wrong == scenes[i].Colour {
					wrong = world.Colours[rng.IntN(len(world.Colours))]
				}
				p = strings.Replace(prompts[i], scenes[i].Colour, wrong, 1)
			}
			if q := world.ParsePrompt(p); (attr == "time" && q.Time == scenes[i].Time) || (attr == "colour" && q.Colour == scenes[i].Colour) {
				t.Fatalf("prompt %q is not wrong", p)
			}
			if !Judge(img, p).Accepted() {
				rejected++
			}
		}
		rate := float64(rejected) / float64(n)
		t.Logf("wrong %s rejected: %.1f%% of %d", attr, 100*rate, n)
		if rate < 0.9 {
			t.Errorf("wrong %s rejected only %.3f", attr, rate)
		}
	}
}

func uniform(w, h int, c color.RGBA) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestEdgeCases(t *testing.T) {
	big := world.Render(world.Scene{Time: "night", Ground: "sea", Relief: "none", Light: "full moon",
		Kind: "circle", Colour: "yellow", Size: "big", Position: "centre", Style: "plain"}, 1)
	// The same picture at 256x256 (nearest upscale) and at 64x64.
	up := image.NewRGBA(image.Rect(0, 0, 256, 256))
	down := image.NewRGBA(image.Rect(10, 10, 74, 74))
	for y := 0; y < 256; y++ {
		for x := 0; x < 256; x++ {
			up.Set(x, y, big.At(x/2, y/2))
		}
	}
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			down.Set(10+x, 10+y, big.At(2*x, 2*y))
		}
	}
	prompt := "a big yellow circle in the centre over the sea at night"
	for _, tc := range []struct {
		name   string
		img    image.Image
		accept bool
	}{
		{"black", uniform(128, 128, color.RGBA{0, 0, 0, 255}), false},
		{"white", uniform(128, 128, color.RGBA{255, 255, 255, 255}), false},
		{"tiny", uniform(1, 1, color.RGBA{200, 30, 30, 255}), false},
		{"empty", image.NewRGBA(image.Rect(0, 0, 0, 0)), false},
		{"upscaled", up, true},
		{"downscaled offset bounds", down, true},
		{"original", big, true},
	} {
		r := Judge(tc.img, prompt)
		if len(r.Checks) != 6 {
			t.Errorf("%s: %d checks, want 6: %+v", tc.name, len(r.Checks), r.Checks)
		}
		if r.Accepted() != tc.accept {
			t.Errorf("%s: accepted %v, want %v: %+v", tc.name, r.Accepted(), tc.accept, r.Checks)
		}
		if c, _ := r.Get("object"); !tc.accept && c.OK {
			t.Errorf("%s: sees an object: %+v", tc.name, r.Checks)
		}
	}
	// A prompt without attributes judges nothing and accepts.
	if r := Judge(big, "something nice"); len(r.Checks) != 0 || !r.Accepted() {
		t.Errorf("empty query: %+v", r)
	}
}

// TestNoObject: scenes without an object must not show one.
func TestNoObject(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	seen, n := 0, 0
	for i := 0; n < 200; i++ {
		s := world.RandomTrain(rng)
		if s.HasObject() {
			continue
		}
		n++
		if a := Analyse(world.Render(s, int64(i))); a.Object {
			seen++
			if seen < 10 {
				t.Logf("false object (%s, area %.3f at %.2f,%.2f) in %+v", a.Colour, a.Area, a.CX, a.CY, s)
			}
		}
	}
	t.Logf("false objects in %d of %d empty scenes", seen, n)
	if seen > n/10 {
		t.Errorf("%d false objects in %d empty scenes", seen, n)
	}
}

// degrade imitates a generated picture: a slight blur, a global colour
// cast and noise.
func degrade(img *image.RGBA, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 1))
	cast := [3]float64{rng.NormFloat64() * 8, rng.NormFloat64() * 8, rng.NormFloat64() * 8}
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			for c := 0; c < 3; c++ {
				s, n := 0.0, 0.0
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						xx, yy := x+dx, y+dy
						if xx < 0 || yy < 0 || xx >= b.Dx() || yy >= b.Dy() {
							continue
						}
						w := 1.0
						if dx == 0 && dy == 0 {
							w = 4
						}
						s += w * float64(img.Pix[4*(yy*b.Dx()+xx)+c])
						n += w
					}
				}
				v := s/n + cast[c] + rng.NormFloat64()*5
				out.Pix[4*(y*b.Dx()+x)+c] = uint8(min(max(v, 0), 255))
			}
			out.Pix[4*(y*b.Dx()+x)+3] = 255
		}
	}
	return out
}

// TestValidationDegraded: the same held-out pictures, blurred, colour-cast
// and noisy, keep time, object and colour readable.
func TestValidationDegraded(t *testing.T) {
	n := 400
	if testing.Short() {
		n = 100
	}
	_, prompts, imgs := heldOutSet(n)
	ok, total := map[string]int{}, map[string]int{}
	for i, img := range imgs {
		for _, c := range Judge(degrade(img, uint64(i)), prompts[i]).Checks {
			total[c.Attr]++
			if c.OK {
				ok[c.Attr]++
			}
		}
	}
	for _, a := range []string{"time", "object", "kind", "colour", "position", "ground", "style"} {
		t.Logf("degraded %-9s %5.1f%% of %d", a, 100*float64(ok[a])/float64(total[a]), total[a])
	}
	for a, w := range map[string]float64{"time": 0.9, "object": 0.85, "kind": 0.8, "colour": 0.85} {
		if got := float64(ok[a]) / float64(total[a]); got < w {
			t.Errorf("degraded %s accuracy %.3f < %.2f", a, got, w)
		}
	}
}
