// Package world is a small procedural world for training and judging a
// text-to-image model: a Scene is a handful of discrete attributes (time of
// day, ground, relief, sun or moon, at most one coloured object, a style),
// Render draws it as a 128x128 picture, Captions describes it in words, and
// ParsePrompt reads those words back so a judge can check a picture.
package world

import (
	"hash/fnv"
	"math/rand/v2"
	"sort"
)

// Size is the side of every rendered image in pixels.
const Size = 128

// The vocabulary. Every list is the canonical attribute values; synonyms
// that captions use are in vocab.go's word tables.
var (
	Times     = []string{"day", "sunset", "night", "dawn"}
	Grounds   = []string{"sea", "lake", "desert", "grass"}
	Reliefs   = []string{"none", "mountains", "hills"}
	Lights    = []string{"none", "sun", "full moon", "crescent moon"}
	Kinds     = []string{"tree", "house", "boat", "circle", "square", "triangle", "star"}
	Colours   = []string{"red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "black", "brown"}
	Sizes     = []string{"small", "medium", "big"}
	Positions = []string{"left", "right", "top", "bottom", "centre"}
	Styles    = []string{"plain", "oil painting", "watercolor", "pixel art", "sketch"}
)

// Scene is one picture's content. Kind == "" means the scene has no object
// (and Colour, Size, Position are then empty too).
type Scene struct {
	Time     string `json:"time"`
	Ground   string `json:"ground"`
	Relief   string `json:"relief"`
	Light    string `json:"light"` // "none", "sun", "full moon", "crescent moon"
	Kind     string `json:"kind"`
	Colour   string `json:"colour"`
	Size     string `json:"size"`
	Position string `json:"position"`
	Style    string `json:"style"`
}

// HasObject reports whether the scene contains an object.
func (s Scene) HasObject() bool { return s.Kind != "" }

// Split selects which (time, kind, colour) combinations Random may produce.
type Split int

const (
	SplitTrain   Split = iota // never a held-out combination
	SplitHeldOut              // always an object, always a held-out combination
)

// heldOut is the fixed set of held-out "time|kind|colour" keys: the 10% of
// the 280 combinations with the smallest FNV hash. A fixed hash rather than
// a random draw keeps the set identical across versions and languages.
var heldOut = func() map[string]bool {
	type kv struct {
		key string
		h   uint32
	}
	var all []kv
	for _, t := range Times {
		for _, k := range Kinds {
			for _, c := range Colours {
				key := t + "|" + k + "|" + c
				f := fnv.New32a()
				f.Write([]byte("imggen-world-heldout:" + key))
				all = append(all, kv{key, f.Sum32()})
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].h < all[j].h })
	m := map[string]bool{}
	for _, e := range all[:len(all)/10] {
		m[e.key] = true
	}
	return m
}()

// HeldOut reports whether the (time, kind, colour) combination is reserved
// for evaluation and never appears in training data.
func HeldOut(time, kind, colour string) bool { return heldOut[time+"|"+kind+"|"+colour] }

// HeldOutCombos lists the held-out combinations as [time, kind, colour]
// triples in a fixed order.
func HeldOutCombos() [][3]string { return append([][3]string(nil), heldOutList...) }

var heldOutList = func() [][3]string {
	var out [][3]string
	for _, t := range Times {
		for _, k := range Kinds {
			for _, c := range Colours {
				if HeldOut(t, k, c) {
					out = append(out, [3]string{t, k, c})
				}
			}
		}
	}
	return out
}()

func pick(rng *rand.Rand, xs []string) string { return xs[rng.IntN(len(xs))] }

// RandomTrain is Random(rng, SplitTrain).
func RandomTrain(rng *rand.Rand) Scene { return Random(rng, SplitTrain) }

// RandomHeldOut is Random(rng, SplitHeldOut).
func RandomHeldOut(rng *rand.Rand) Scene { return Random(rng, SplitHeldOut) }

// Random draws a scene. With SplitTrain it never returns a held-out (time, kind,
// colour) combination; with SplitHeldOut it always returns one.
func Random(rng *rand.Rand, split Split) Scene {
	var s Scene
	hasObj := split == SplitHeldOut || rng.Float64() < 0.85
	if hasObj {
		if split == SplitHeldOut {
			combos := heldOutList
			c := combos[rng.IntN(len(combos))]
			s.Time, s.Kind, s.Colour = c[0], c[1], c[2]
		} else {
			for {
				s.Time, s.Kind, s.Colour = pick(rng, Times), pick(rng, Kinds), pick(rng, Colours)
				if !HeldOut(s.Time, s.Kind, s.Colour) {
					break
				}
			}
		}
		s.Size = pick(rng, Sizes)
		switch s.Kind {
		case "boat": // boats float on water
			s.Ground = pick(rng, []string{"sea", "lake"})
			s.Position = pick(rng, []string{"left", "right", "centre", "bottom"})
		case "tree", "house": // stand on dry ground
			s.Ground = pick(rng, []string{"desert", "grass"})
			s.Position = pick(rng, []string{"left", "right", "centre", "bottom"})
		default: // shapes float anywhere, sky included
			s.Ground = pick(rng, Grounds)
			s.Position = pick(rng, Positions)
		}
	} else {
		s.Time = pick(rng, Times)
		s.Ground = pick(rng, Grounds)
	}
	s.Relief = pick(rng, Reliefs)
	switch {
	case rng.Float64() < 0.2:
		s.Light = "none"
	case s.Time == "night":
		s.Light = pick(rng, []string{"full moon", "crescent moon"})
	default:
		s.Light = "sun"
	}
	s.Style = pick(rng, Styles)
	return s
}
