package world

import (
	"math/rand/v2"
	"strings"
)

// Phrasings used by captions. ParsePrompt knows every word they contain
// (see the word tables below), and no phrase uses a colour, kind or
// position word for anything but the object.
var (
	timePhrases = map[string][]string{
		"day":    {"during the day", "in daylight", "in the daytime"},
		"sunset": {"at sunset", "at dusk"},
		"night":  {"at night"},
		"dawn":   {"at dawn", "at sunrise"},
	}
	timeNouns = map[string][]string{
		"day":    {"daytime", "a day scene"},
		"sunset": {"sunset", "dusk"},
		"night":  {"night", "a night sky"},
		"dawn":   {"dawn", "sunrise"},
	}
	groundNouns = map[string][]string{
		"sea":    {"the sea", "the ocean"},
		"lake":   {"a lake", "a calm lake"},
		"desert": {"the desert", "a sandy desert"},
		"grass":  {"a meadow", "a grassy field"},
	}
	reliefPhrases = map[string][]string{
		"mountains": {"with mountains", "in front of mountains", "with mountains in the background"},
		"hills":     {"with hills", "with rolling hills", "with hills in the background"},
	}
	reliefNouns = map[string][]string{
		"mountains": {"mountains", "a mountain range"},
		"hills":     {"rolling hills", "hills"},
	}
	lightPhrases = map[string][]string{
		"sun":           {"with the sun", "under the sun"},
		"full moon":     {"under a full moon", "with a full moon"},
		"crescent moon": {"under a crescent moon", "with a crescent moon"},
	}
	lightNouns = map[string][]string{
		"sun":           {"the sun in the sky"},
		"full moon":     {"a full moon", "a full moon in the sky"},
		"crescent moon": {"a crescent moon", "a crescent moon in the sky"},
	}
	styleTails = map[string][]string{
		"plain":        {"plain style", "flat illustration"},
		"oil painting": {"oil painting", "in oil paint"},
		"watercolor":   {"watercolor", "watercolor painting"},
		"pixel art":    {"pixel art"},
		"sketch":       {"sketch", "pencil sketch"},
	}
	styleHeads = map[string][]string{
		"plain":        {"a flat illustration of"},
		"oil painting": {"an oil painting of"},
		"watercolor":   {"a watercolor of", "a watercolor painting of"},
		"pixel art":    {"pixel art of"},
		"sketch":       {"a pencil sketch of", "a sketch of"},
	}
	positionPhrases = map[string][]string{
		"left":   {"on the left"},
		"right":  {"on the right"},
		"centre": {"in the centre", "in the middle"},
		"top":    {"at the top"},
		"bottom": {"at the bottom"},
	}
	sizeWords = map[string][]string{
		"small":  {"small"},
		"medium": {"medium"},
		"big":    {"big", "large"},
	}
)

// groundPrep is how the object relates to the ground: boats float on it,
// trees and houses stand on it, shapes hang over it.
func groundPrep(s Scene, rng *rand.Rand) string {
	g := pick(rng, groundNouns[s.Ground])
	switch s.Kind {
	case "boat":
		return "on " + g
	case "tree", "house":
		return "in " + g
	default:
		return pick(rng, []string{"over ", "above "}) + g
	}
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

// objectPhrase is "a [size] colour kind [position]".
func objectPhrase(s Scene, rng *rand.Rand, withSize, withPos bool) string {
	w := s.Colour + " " + s.Kind
	if withSize {
		w = pick(rng, sizeWords[s.Size]) + " " + w
	}
	w = article(w)
	if withPos {
		w += " " + pick(rng, positionPhrases[s.Position])
	}
	return w
}

// FullCaption names the time of day, the object with its colour (if any),
// the ground and the style; size, position, relief and light sometimes.
func FullCaption(s Scene, rng *rand.Rand) string {
	var head string
	if s.HasObject() {
		head = objectPhrase(s, rng, rng.IntN(2) == 0, rng.Float64() < 0.7) + " " + groundPrep(s, rng)
	} else {
		head = pick(rng, groundNouns[s.Ground])
	}
	var extras []string
	if s.Relief != "none" && rng.IntN(2) == 0 {
		extras = append(extras, pick(rng, reliefPhrases[s.Relief]))
	}
	if s.Light != "none" && rng.IntN(3) == 0 {
		extras = append(extras, pick(rng, lightPhrases[s.Light]))
	}
	rng.Shuffle(len(extras), func(i, j int) { extras[i], extras[j] = extras[j], extras[i] })
	body := join(append([]string{head}, extras...), " ")
	switch rng.IntN(3) {
	case 0: // "a red boat on the sea at sunset, oil painting"
		return body + " " + pick(rng, timePhrases[s.Time]) + ", " + pick(rng, styleTails[s.Style])
	case 1: // "an oil painting of a red boat on the sea at sunset"
		return pick(rng, styleHeads[s.Style]) + " " + body + " " + pick(rng, timePhrases[s.Time])
	default: // "sunset, a red boat on the sea, oil painting"
		return pick(rng, timeNouns[s.Time]) + ", " + body + ", " + pick(rng, styleTails[s.Style])
	}
}

func join(xs []string, sep string) string {
	var out []string
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	return strings.Join(out, sep)
}

// partialCaption mentions a random non-empty subset of what is visible.
func partialCaption(s Scene, rng *rand.Rand) string {
	type part int
	const (
		pObj part = iota
		pGround
		pRelief
		pLight
		pTime
		pStyle
	)
	var avail []part
	if s.HasObject() {
		avail = append(avail, pObj)
	}
	avail = append(avail, pGround)
	if s.Relief != "none" {
		avail = append(avail, pRelief)
	}
	if s.Light != "none" {
		avail = append(avail, pLight)
	}
	avail = append(avail, pTime, pStyle)
	use := map[part]bool{}
	for len(use) == 0 {
		for _, p := range avail {
			if rng.IntN(2) == 0 {
				use[p] = true
			}
		}
	}
	var head string
	switch {
	case use[pObj]:
		head = objectPhrase(s, rng, rng.IntN(3) == 0, rng.IntN(2) == 0)
		if use[pGround] {
			head += " " + groundPrep(s, rng)
		}
		use[pGround] = false
	case use[pGround]:
		head = pick(rng, groundNouns[s.Ground])
		use[pGround] = false
	case use[pLight] && rng.IntN(2) == 0:
		head = pick(rng, lightNouns[s.Light])
		use[pLight] = false
	case use[pRelief] && rng.IntN(2) == 0:
		head = pick(rng, reliefNouns[s.Relief])
		use[pRelief] = false
	case use[pTime]:
		head = pick(rng, timeNouns[s.Time])
		use[pTime] = false
	}
	var extras []string
	if use[pRelief] {
		extras = append(extras, pick(rng, reliefPhrases[s.Relief]))
	}
	if use[pLight] {
		extras = append(extras, pick(rng, lightPhrases[s.Light]))
	}
	rng.Shuffle(len(extras), func(i, j int) { extras[i], extras[j] = extras[j], extras[i] })
	if use[pTime] {
		extras = append(extras, pick(rng, timePhrases[s.Time]))
	}
	body := join(append([]string{head}, extras...), " ")
	if use[pStyle] {
		if body == "" {
			return pick(rng, styleTails[s.Style])
		}
		if rng.IntN(2) == 0 {
			return pick(rng, styleHeads[s.Style]) + " " + body
		}
		return body + ", " + pick(rng, styleTails[s.Style])
	}
	if body == "" { // only relief/light were chosen and both went to extras
		return pick(rng, timeNouns[s.Time])
	}
	return body
}

// Captions returns k different phrasings of the scene. The first is always
// a full caption (FullCaption); about a third of the others are full too,
// the rest mention a subset of the attributes. If the scene cannot be
// described in k different ways, phrasings repeat.
func Captions(s Scene, rng *rand.Rand, k int) []string {
	out := make([]string, 0, k)
	seen := map[string]bool{}
	for tries := 0; len(out) < k; tries++ {
		var c string
		if len(out) == 0 || rng.IntN(3) == 0 {
			c = FullCaption(s, rng)
		} else {
			c = partialCaption(s, rng)
		}
		if seen[c] && tries < 40*k {
			continue
		}
		seen[c] = true
		out = append(out, c)
	}
	return out
}

// EvalPrompt is one evaluation prompt and the attributes it asks for.
// Position, Ground and Style are empty when the prompt does not name them.
type EvalPrompt struct {
	Prompt   string `json:"prompt"`
	Time     string `json:"time"`
	Kind     string `json:"kind"`
	Colour   string `json:"colour"`
	Position string `json:"position,omitempty"`
	Ground   string `json:"ground,omitempty"`
	Style    string `json:"style,omitempty"`
	Scene    Scene  `json:"scene"` // the scene the prompt describes
}

// EvalPrompts returns n full-caption prompts of held-out scenes: each names
// a held-out (time, kind, colour) combination.
func EvalPrompts(n int, seed int64) []EvalPrompt {
	rng := rand.New(rand.NewPCG(uint64(seed), 0xe7a1))
	out := make([]EvalPrompt, n)
	for i := range out {
		s := RandomHeldOut(rng)
		p := FullCaption(s, rng)
		q := ParsePrompt(p)
		out[i] = EvalPrompt{Prompt: p, Time: q.Time, Kind: q.Kind, Colour: q.Colour,
			Position: q.Position, Ground: q.Ground, Style: q.Style, Scene: s}
	}
	return out
}

// Query is what a free-text prompt asks for; "" means not mentioned.
// Light is "sun", "full moon", "crescent moon" or "moon" (unspecified).
type Query struct {
	Time, Kind, Colour, Size, Position, Ground, Relief, Light, Style string
}

// Word tables: every word (or two-word phrase) ParsePrompt recognises.
var (
	TimeWords = map[string]string{"day": "day", "daytime": "day", "daylight": "day",
		"sunset": "sunset", "dusk": "sunset", "night": "night", "dawn": "dawn", "sunrise": "dawn"}
	KindWords = map[string]string{"tree": "tree", "house": "house", "boat": "boat",
		"circle": "circle", "square": "square", "triangle": "triangle", "star": "star"}
	SizeWords     = map[string]string{"small": "small", "medium": "medium", "big": "big", "large": "big"}
	PositionWords = map[string]string{"left": "left", "right": "right", "top": "top", "bottom": "bottom",
		"centre": "centre", "center": "centre", "middle": "centre"}
	GroundWords = map[string]string{"sea": "sea", "ocean": "sea", "lake": "lake", "desert": "desert",
		"grass": "grass", "grassy": "grass", "meadow": "grass"}
	ReliefWords = map[string]string{"mountains": "mountains", "mountain": "mountains", "hills": "hills", "hill": "hills"}
	StyleWords  = map[string]string{"plain": "plain", "flat": "plain", "oil": "oil painting",
		"watercolor": "watercolor", "watercolour": "watercolor", "pixel": "pixel art",
		"sketch": "sketch", "pencil": "sketch"}
)

// ParsePrompt finds the attributes a prompt names. Words are matched whole
// ("stars" is not "star", "sunset" is not "sun"); the first match of each
// attribute wins.
func ParsePrompt(prompt string) Query {
	words := strings.FieldsFunc(strings.ToLower(prompt), func(r rune) bool {
		return r < 'a' || r > 'z'
	})
	var q Query
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	for i, w := range words {
		next := ""
		if i+1 < len(words) {
			next = words[i+1]
		}
		for _, f := range []struct {
			words map[string]string
			dst   *string
		}{
			{TimeWords, &q.Time}, {KindWords, &q.Kind}, {SizeWords, &q.Size}, {PositionWords, &q.Position},
			{GroundWords, &q.Ground}, {ReliefWords, &q.Relief}, {StyleWords, &q.Style},
		} {
			if v, ok := f.words[w]; ok {
				set(f.dst, v)
			}
		}
		if _, ok := Palette[w]; ok {
			set(&q.Colour, w)
		}
		switch {
		case w == "sun":
			set(&q.Light, "sun")
		case (w == "full" || w == "crescent") && next == "moon":
			set(&q.Light, w+" moon")
		case w == "moon":
			set(&q.Light, "moon")
		}
	}
	return q
}
