package world

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/textenc"
)

func TestHeldOutSet(t *testing.T) {
	combos := HeldOutCombos()
	if len(combos) != 28 {
		t.Fatalf("%d held-out combinations, want 28", len(combos))
	}
	// Every time, kind and colour must still be trainable.
	for _, list := range [][]string{Times, Kinds, Colours} {
		for _, v := range list {
			train := 0
			for _, tm := range Times {
				for _, k := range Kinds {
					for _, c := range Colours {
						if (tm == v || k == v || c == v) && !HeldOut(tm, k, c) {
							train++
						}
					}
				}
			}
			if train == 0 {
				t.Errorf("%q never appears in training", v)
			}
		}
	}
}

func TestRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	objects := 0
	for i := 0; i < 20000; i++ {
		s := RandomTrain(rng)
		if s.HasObject() {
			objects++
			if HeldOut(s.Time, s.Kind, s.Colour) {
				t.Fatalf("train scene %+v is held out", s)
			}
		}
		checkConstraints(t, s)
	}
	if f := float64(objects) / 20000; f < 0.82 || f > 0.88 {
		t.Errorf("object fraction %.3f, want about 0.85", f)
	}
	for i := 0; i < 2000; i++ {
		s := RandomHeldOut(rng)
		if !s.HasObject() || !HeldOut(s.Time, s.Kind, s.Colour) {
			t.Fatalf("held-out scene %+v is not held out", s)
		}
		checkConstraints(t, s)
	}
}

func checkConstraints(t *testing.T, s Scene) {
	t.Helper()
	switch s.Kind {
	case "boat":
		if s.Ground != "sea" && s.Ground != "lake" {
			t.Fatalf("boat on %s", s.Ground)
		}
	case "tree", "house":
		if s.Ground != "desert" && s.Ground != "grass" {
			t.Fatalf("%s on %s", s.Kind, s.Ground)
		}
		if s.Position == "top" {
			t.Fatalf("%s at the top", s.Kind)
		}
	}
	switch {
	case s.Light == "none":
	case s.Time == "night" && !strings.HasSuffix(s.Light, "moon"):
		t.Fatalf("night with %s", s.Light)
	case s.Time != "night" && s.Light != "sun":
		t.Fatalf("%s with %s", s.Time, s.Light)
	}
}

func TestRenderDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 50; i++ {
		s := RandomTrain(rng)
		s.Style = Styles[i%len(Styles)]
		a, b := Render(s, int64(i)), Render(s, int64(i))
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Fatalf("scene %+v seed %d renders differently twice", s, i)
		}
		if c := Render(s, int64(i)+1000); bytes.Equal(a.Pix, c.Pix) {
			t.Errorf("scene %+v: seeds %d and %d render the same", s, i, i+1000)
		}
		if a.Bounds().Dx() != Size || a.Bounds().Dy() != Size {
			t.Fatalf("bounds %v", a.Bounds())
		}
	}
}

// TestObjectGeometry checks object area and position from the coverage mask.
func TestObjectGeometry(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 3000; i++ {
		s := RandomTrain(rng)
		if !s.HasObject() {
			continue
		}
		c := renderCanvas(s, int64(i))
		var area, sx, sy float64
		for y := 0; y < Size; y++ {
			for x := 0; x < Size; x++ {
				m := float64(c.mask[y*Size+x])
				area += m
				sx += m * (float64(x) + 0.5)
				sy += m * (float64(y) + 0.5)
			}
		}
		frac := area / (Size * Size)
		want := AreaFraction[s.Size]
		if frac < 0.6*want || frac > 1.6*want {
			t.Errorf("%s %s covers %.3f, want about %.2f", s.Size, s.Kind, frac, want)
		}
		cx, cy := sx/area, sy/area
		ok := true
		switch s.Position {
		case "left": // big objects cannot fit in a third
			ok = cx < Size*0.45
		case "right":
			ok = cx > Size*0.55
		case "centre":
			ok = cx > Size/3.0 && cx < Size*2/3.0
		case "top":
			ok = cy < Size/2.0
		case "bottom":
			ok = cy > Size/2.0
		}
		if !ok {
			t.Errorf("%s %s %s: centroid (%.0f, %.0f)", s.Size, s.Kind, s.Position, cx, cy)
		}
	}
}

// TestObjectColour checks that the mean object colour stays nearest to its
// palette colour in every time of day and style.
func TestObjectColour(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 1500; i++ {
		s := RandomTrain(rng)
		if !s.HasObject() {
			continue
		}
		c := renderCanvas(s, int64(i))
		img := Render(s, int64(i))
		votes := map[string]int{}
		n := 0
		for p, m := range c.mask {
			if m == 1 {
				votes[ColourName(img.Pix[4*p], img.Pix[4*p+1], img.Pix[4*p+2])]++
				n++
			}
		}
		if votes[s.Colour] < n/2 {
			t.Errorf("%+v: only %d of %d object pixels read %s: %v", s, votes[s.Colour], n, s.Colour, votes)
		}
	}
}

func TestColourNamePalette(t *testing.T) {
	for name, p := range Palette {
		if got := ColourName(p[0], p[1], p[2]); got != name {
			t.Errorf("ColourName(%v) = %s, want %s", p, got, name)
		}
	}
}

func TestCaptions(t *testing.T) {
	tok := textenc.NewCLIPTokenizer(textenc.EOT)
	rng := rand.New(rand.NewPCG(9, 10))
	full := 0
	total := 0
	for i := 0; i < 4000; i++ {
		s := RandomTrain(rng)
		caps := Captions(s, rng, 6)
		if len(caps) != 6 {
			t.Fatalf("%d captions", len(caps))
		}
		seen := map[string]bool{}
		for j, c := range caps {
			if seen[c] {
				t.Errorf("duplicate caption %q", c)
			}
			seen[c] = true
			for _, r := range c {
				if r > 127 || (r >= 'A' && r <= 'Z') {
					t.Fatalf("caption %q is not lower-case ASCII", c)
				}
			}
			if n := tok.Encode(c).TextTokens; n > 40 {
				t.Errorf("caption %q has %d tokens", c, n)
			}
			q := ParsePrompt(c)
			checkMentions(t, s, q, c)
			isFull := q.Time != "" && q.Ground != "" && (q.Style != "" || s.Style == "plain") &&
				(!s.HasObject() || (q.Kind != "" && q.Colour != ""))
			if j == 0 && !isFull {
				t.Errorf("first caption %q of %+v is not full", c, s)
			}
			if j > 0 {
				total++
				if isFull {
					full++
				}
			}
		}
	}
	if f := float64(full) / float64(total); f < 0.25 || f > 0.5 {
		t.Errorf("%.2f of the later captions are full, want about a third", f)
	}
}

// checkMentions fails if the caption names anything the scene does not show.
func checkMentions(t *testing.T, s Scene, q Query, c string) {
	t.Helper()
	bad := func(what, got, want string) {
		t.Errorf("caption %q names %s %q, scene has %q", c, what, got, want)
	}
	if q.Time != "" && q.Time != s.Time {
		bad("time", q.Time, s.Time)
	}
	for _, f := range []struct{ name, got, want string }{
		{"kind", q.Kind, s.Kind}, {"colour", q.Colour, s.Colour}, {"size", q.Size, s.Size},
		{"position", q.Position, s.Position}, {"ground", q.Ground, s.Ground},
		{"relief", q.Relief, s.Relief}, {"style", q.Style, s.Style},
	} {
		if f.got != "" && f.got != f.want {
			bad(f.name, f.got, f.want)
		}
	}
	if q.Light != "" && q.Light != s.Light && !(q.Light == "moon" && strings.HasSuffix(s.Light, "moon")) {
		bad("light", q.Light, s.Light)
	}
}

func TestParsePrompt(t *testing.T) {
	for _, tc := range []struct {
		prompt string
		want   Query
	}{
		{"a red boat on the sea at sunset, oil painting",
			Query{Time: "sunset", Kind: "boat", Colour: "red", Ground: "sea", Style: "oil painting"}},
		{"night sky with a full moon over mountains",
			Query{Time: "night", Light: "full moon", Relief: "mountains"}},
		{"A small Blue circle in the top left of a desert at dawn, pixel art",
			Query{Time: "dawn", Kind: "circle", Colour: "blue", Size: "small", Position: "top", Ground: "desert", Style: "pixel art"}},
		{"a green tree on a hill, watercolour", Query{Kind: "tree", Colour: "green", Relief: "hills", Style: "watercolor"}},
		{"stars in the night, the sun is gone at sunrise", Query{Time: "night", Light: "sun"}},
		{"", Query{}},
		{"a big white house in the middle of a meadow during the day, pencil sketch",
			Query{Time: "day", Kind: "house", Colour: "white", Size: "big", Position: "centre", Ground: "grass", Style: "sketch"}},
	} {
		if got := ParsePrompt(tc.prompt); got != tc.want {
			t.Errorf("ParsePrompt(%q) = %+v, want %+v", tc.prompt, got, tc.want)
		}
	}
}

func TestEvalPrompts(t *testing.T) {
	a, b := EvalPrompts(200, 42), EvalPrompts(200, 42)
	for i, p := range a {
		if p != b[i] {
			t.Fatalf("EvalPrompts not deterministic at %d", i)
		}
		if p.Time == "" || p.Kind == "" || p.Colour == "" {
			t.Errorf("prompt %q does not name time, kind and colour", p.Prompt)
		}
		if !HeldOut(p.Time, p.Kind, p.Colour) {
			t.Errorf("prompt %q is not held out", p.Prompt)
		}
		if p.Time != p.Scene.Time || p.Kind != p.Scene.Kind || p.Colour != p.Scene.Colour {
			t.Errorf("prompt %q disagrees with its scene %+v", p.Prompt, p.Scene)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	for _, st := range Styles {
		b.Run(strings.ReplaceAll(st, " ", "_"), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			for i := 0; b.Loop(); i++ {
				s := RandomTrain(rng)
				s.Style = st
				Render(s, int64(i))
			}
		})
	}
}
