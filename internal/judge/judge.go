// Package judge checks a picture against a prompt of the procedural world
// (internal/world): it reads the time of day from the sky, finds the
// object as the largest compact foreground blob, names its colour and
// position, and recognises the style by cheap texture signatures. It never
// sees the scene, only pixels, and uses robust statistics so that
// approximate (blurred, slightly off-colour) generated pictures still pass.
package judge

import (
	"image"
	"math"
	"sort"

	"github.com/imggen/imggen/internal/world"
)

// N is the side the judge works at; other sizes are resampled.
const N = world.Size

// Check is the verdict on one attribute the prompt asks for.
type Check struct {
	Attr  string `json:"attr"`  // "time", "object", "kind", "colour", "position", "ground", "style"
	Asked string `json:"asked"` // what the prompt asks
	Seen  string `json:"seen"`  // what the picture shows ("none" or "unknown" when nothing fits)
	OK    bool   `json:"ok"`
}

// Report lists a check for every attribute the prompt mentions, in the
// order time, object, kind, colour, position, ground, style.
type Report struct {
	Prompt string      `json:"prompt"`
	Query  world.Query `json:"query"`
	Checks []Check     `json:"checks"`
}

// Accepted reports whether every judged attribute is OK.
func (r Report) Accepted() bool {
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return true
}

// Get returns the check of one attribute, if the prompt asked for it.
func (r Report) Get(attr string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Attr == attr {
			return c, true
		}
	}
	return Check{}, false
}

// Judge checks img against prompt.
func Judge(img image.Image, prompt string) Report {
	q := world.ParsePrompt(prompt)
	r := Report{Prompt: prompt, Query: q}
	a := Analyse(img)
	add := func(attr, asked, seen string, ok bool) {
		r.Checks = append(r.Checks, Check{attr, asked, seen, ok})
	}
	if q.Time != "" {
		add("time", q.Time, a.Time, a.Time == q.Time)
	}
	if q.Kind != "" || q.Colour != "" {
		asked := q.Kind
		if asked == "" {
			asked = "object"
		}
		seen := "none"
		if a.Object {
			seen = "object"
		}
		add("object", asked, seen, a.Object)
	}
	if q.Kind != "" {
		seen := "none"
		if a.Object {
			seen = a.Kind
		}
		add("kind", q.Kind, seen, seen == q.Kind)
	}
	if q.Colour != "" {
		seen := "none"
		if a.Object {
			seen = a.Colour
		}
		add("colour", q.Colour, seen, seen == q.Colour)
	}
	if q.Position != "" {
		seen, ok := "none", false
		if a.Object {
			seen = a.positionName(q.Position)
			ok = a.positionOK(q.Position)
		}
		add("position", q.Position, seen, ok)
	}
	if q.Ground != "" {
		want := q.Ground
		if want == "sea" || want == "lake" {
			want = "water"
		}
		add("ground", q.Ground, a.Ground, a.Ground == want)
	}
	if q.Style != "" {
		add("style", q.Style, a.Style, a.Style == q.Style)
	}
	return r
}

// Analysis is everything the judge reads from a picture.
type Analysis struct {
	Time       string  // "day", "sunset", "night", "dawn" or "unknown"
	Object     bool    // a compact foreground blob was found
	Kind       string  // the blob's nearest kind by shape
	Colour     string  // the blob's palette colour
	CX, CY     float64 // blob centroid as fractions of the width and height
	Area       float64 // blob area as a fraction of the image
	Ground     string  // "water", "desert", "grass" or "unknown"
	Style      string  // one of world.Styles
	styleScore map[string]float64
}

func (a Analysis) positionName(asked string) string {
	switch asked {
	case "top", "bottom":
		if a.CY < 0.5 {
			return "top"
		}
		return "bottom"
	}
	switch {
	case a.CX < 1.0/3:
		return "left"
	case a.CX > 2.0/3:
		return "right"
	}
	return "centre"
}

// positionOK: a big object cannot fit inside a side third, so left and
// right only need the centroid clearly off-centre.
func (a Analysis) positionOK(asked string) bool {
	switch asked {
	case "left":
		return a.CX < 0.45
	case "right":
		return a.CX > 0.55
	case "centre":
		return a.CX > 1.0/3 && a.CX < 2.0/3
	case "top":
		return a.CY < 0.5
	case "bottom":
		return a.CY > 0.5
	}
	return false
}

type px [3]float64

func dist(a, b px) float64 {
	d0, d1, d2 := a[0]-b[0], a[1]-b[1], a[2]-b[2]
	return math.Sqrt(d0*d0 + d1*d1 + d2*d2)
}

// raster is an N x N RGB picture in float64.
type raster []px

func (r raster) at(x, y int) px {
	x = min(max(x, 0), N-1)
	y = min(max(y, 0), N-1)
	return r[y*N+x]
}

// toRaster resamples any image to N x N by box averaging (or nearest
// sampling when it is smaller). A 0-area image gives a black raster.
func toRaster(img image.Image) raster {
	out := make(raster, N*N)
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return out
	}
	for y := 0; y < N; y++ {
		y0 := b.Min.Y + y*h/N
		y1 := max(b.Min.Y+(y+1)*h/N, y0+1)
		for x := 0; x < N; x++ {
			x0 := b.Min.X + x*w/N
			x1 := max(b.Min.X+(x+1)*w/N, x0+1)
			var s px
			n := 0.0
			for yy := y0; yy < y1; yy++ {
				for xx := x0; xx < x1; xx++ {
					r, g, bl, _ := img.At(xx, yy).RGBA()
					s[0] += float64(r >> 8)
					s[1] += float64(g >> 8)
					s[2] += float64(bl >> 8)
					n++
				}
			}
			out[y*N+x] = px{s[0] / n, s[1] / n, s[2] / n}
		}
	}
	return out
}

// median3 is a 3x3 per-channel median filter: it removes hatching lines,
// stars, outlines and grain while keeping areas and edges.
func median3(r raster) raster {
	out := make(raster, N*N)
	var v [9]float64
	for y := 0; y < N; y++ {
		for x := 0; x < N; x++ {
			for c := 0; c < 3; c++ {
				k := 0
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						v[k] = r.at(x+dx, y+dy)[c]
						k++
					}
				}
				out[y*N+x][c] = median9(&v)
			}
		}
	}
	return out
}

// median9 is Paeth's 19-comparison median network.
func median9(p *[9]float64) float64 {
	op := func(a, b int) {
		if p[a] > p[b] {
			p[a], p[b] = p[b], p[a]
		}
	}
	op(1, 2)
	op(4, 5)
	op(7, 8)
	op(0, 1)
	op(3, 4)
	op(6, 7)
	op(1, 2)
	op(4, 5)
	op(7, 8)
	op(0, 3)
	op(5, 8)
	op(4, 7)
	op(3, 6)
	op(1, 4)
	op(2, 5)
	op(4, 7)
	op(4, 2)
	op(6, 4)
	op(4, 2)
	return p[4]
}

func medianPx(ps []px) px {
	var out px
	vals := make([]float64, len(ps))
	for c := 0; c < 3; c++ {
		for i, p := range ps {
			vals[i] = p[c]
		}
		sort.Float64s(vals)
		out[c] = vals[len(vals)/2]
	}
	return out
}

// Analyse reads time, object, kind, colour, position, ground and style
// from img.
func Analyse(img image.Image) Analysis {
	r := toRaster(img)
	var a Analysis
	blob, sc := objectBlob(r)
	a.Time = sc.time
	if len(blob) > 0 {
		a.Object = true
		a.Area = float64(len(blob)) / (N * N)
		var sx, sy float64
		for _, i := range blob {
			sx += float64(i%N) + 0.5
			sy += float64(i/N) + 0.5
		}
		a.CX, a.CY = sx/float64(len(blob))/N, sy/float64(len(blob))/N
		a.Colour = blobColour(sc.m, blob)
		a.Kind = classifyKind(blob)
	}
	a.Ground = classifyGround(sc.m, blob, a.Time, sc.family)
	a.Style, a.styleScore = classifyStyle(r, sc.m, sc.family)
	return a
}

// sceneRead is what objectBlob learns on the way: the median-filtered
// picture, the time of day and the style's colour family.
type sceneRead struct {
	m            raster
	time, family string
}

// objectBlob finds the object's pixels (nil if none).
func objectBlob(r raster) ([]int, sceneRead) {
	m := median3(r)
	time, family := classifyTime(m)
	return findBlob(m, background(m), time, family), sceneRead{m, time, family}
}

// styleFamilies are the colour mappings the style filters apply to the
// background; the judge matches the sky under each.
var styleFamilies = []string{"plain", "watercolor", "sketch"}

// classifyTime matches the top rows of the picture against the world's sky
// gradient of each time of day under each style's colour mapping. Each
// pixel's distance is capped so an object or the sun in the sky only adds
// a constant; the smallest total wins.
func classifyTime(m raster) (time, family string) {
	const rows, capD = 24, 60.0
	best := math.Inf(1)
	for _, t := range world.Times {
		for _, f := range styleFamilies {
			cost := 0.0
			for y := 0; y < rows; y++ {
				tpl := px(world.StyleTint(f, world.SkyColour(t, (float64(y)+0.5)/64)))
				for x := 0; x < N; x++ {
					cost += min(dist(m[y*N+x], tpl), capD)
				}
			}
			if cost < best {
				best, time, family = cost, t, f
			}
		}
	}
	if best/(rows*N) > 0.75*capD { // nothing looks like any sky
		return "unknown", "plain"
	}
	return time, family
}

// background estimates each row's background colour from the medians of
// its left and right edges. An object never touches both sides, so where
// the two disagree the one that continues the nearest agreeing row wins.
func background(m raster) []px {
	const edge = 6
	left, right := make([]px, N), make([]px, N)
	agree := make([]bool, N)
	buf := make([]px, 0, edge)
	for y := 0; y < N; y++ {
		buf = buf[:0]
		for x := 0; x < edge; x++ {
			buf = append(buf, m[y*N+x])
		}
		left[y] = medianPx(buf)
		buf = buf[:0]
		for x := N - edge; x < N; x++ {
			buf = append(buf, m[y*N+x])
		}
		right[y] = medianPx(buf)
		agree[y] = dist(left[y], right[y]) < 30
	}
	bg := make([]px, N)
	for y := 0; y < N; y++ {
		if agree[y] {
			bg[y] = px{(left[y][0] + right[y][0]) / 2, (left[y][1] + right[y][1]) / 2, (left[y][2] + right[y][2]) / 2}
			continue
		}
		ref, found := px{}, false
		for d := 1; d < N && !found; d++ {
			for _, yy := range []int{y - d, y + d} {
				if yy >= 0 && yy < N && agree[yy] {
					ref, found = left[yy], true
					break
				}
			}
		}
		switch {
		case !found:
			bg[y] = left[y]
		case dist(left[y], ref) <= dist(right[y], ref):
			bg[y] = left[y]
		default:
			bg[y] = right[y]
		}
	}
	return bg
}

// findBlob returns the pixel indices of the largest compact foreground
// region, or nil when there is none of a minimum area. A pixel is
// foreground when it differs from the background of its own and nearby
// rows (so a horizon a few rows off is not an object) and does not look
// like the sky, the relief, the ground or a reflection on water.
func findBlob(m raster, bg []px, time, family string) []int {
	const thresh, minArea = 50.0, 0.028 * N * N
	var relief []px
	var sky [N]px
	var refl px
	var ground [N][]px
	known := time != "unknown"
	if known {
		for _, c := range world.ReliefColours(time) {
			relief = append(relief, px(world.StyleTint(family, c)))
		}
		for y := range sky {
			sky[y] = px(world.StyleTint(family, world.SkyColour(time, (float64(y)+0.5)/64)))
		}
		refl = px(world.StyleTint(family, world.ReflectionColour(time)))
		for y := 56; y < N; y++ {
			for _, g := range world.Grounds {
				c := world.GroundColour(g, time, max(float64(y-64), 0)/64)
				ground[y] = append(ground[y], px(world.StyleTint(family, c)))
			}
		}
	}
	fg := make([]bool, N*N)
	for y := 0; y < N; y++ {
	pixels:
		for x := 0; x < N; x++ {
			p := m[y*N+x]
			for d := -4; d <= 4; d++ {
				if yy := y + d; yy >= 0 && yy < N && dist(p, bg[yy]) <= thresh {
					continue pixels
				}
			}
			if known && y < 72 && dist(p, sky[y]) < 30 {
				continue
			}
			if known && y > 10 && y < 80 {
				for _, c := range relief {
					if dist(p, c) < 40 {
						continue pixels
					}
				}
			}
			if known && y > 55 && onSegment(p, bg[y], refl) {
				continue
			}
			if known && y > 55 {
				for _, c := range ground[y] {
					if dist(p, c) < 40 {
						continue pixels
					}
				}
			}
			fg[y*N+x] = true
		}
	}
	fg = dilate(dilate(erode(erode(fg)))) // 5x5 opening: drop lines up to 4 px (pixel-art edges), specks
	seen := make([]bool, N*N)
	var best []int
	stack := []int{}
	for start := range fg {
		if !fg[start] || seen[start] {
			continue
		}
		var comp []int
		stack = append(stack[:0], start)
		seen[start] = true
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, i)
			x, y := i%N, i/N
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx < 0 || yy < 0 || xx >= N || yy >= N {
						continue
					}
					j := yy*N + xx
					if fg[j] && !seen[j] {
						seen[j] = true
						stack = append(stack, j)
					}
				}
			}
		}
		if len(comp) > len(best) {
			best = comp
		}
	}
	if float64(len(best)) < minArea {
		return nil
	}
	return best
}

// onSegment reports whether p is a partial mix of the background a towards
// the light colour b, as the sun's streaks on water are.
func onSegment(p, a, b px) bool {
	var ab, ap px
	for c := 0; c < 3; c++ {
		ab[c], ap[c] = b[c]-a[c], p[c]-a[c]
	}
	l2 := ab[0]*ab[0] + ab[1]*ab[1] + ab[2]*ab[2]
	if l2 < 1 {
		return false
	}
	t := (ap[0]*ab[0] + ap[1]*ab[1] + ap[2]*ab[2]) / l2
	if t < 0.05 || t > 0.75 {
		return false
	}
	return dist(p, px{a[0] + t*ab[0], a[1] + t*ab[1], a[2] + t*ab[2]}) < 25
}

func erode(in []bool) []bool {
	out := make([]bool, N*N)
	for y := 1; y < N-1; y++ {
		for x := 1; x < N-1; x++ {
			ok := true
			for dy := -1; dy <= 1 && ok; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if !in[(y+dy)*N+x+dx] {
						ok = false
						break
					}
				}
			}
			out[y*N+x] = ok
		}
	}
	// Keep image-border pixels whose inner neighbour survived, so objects
	// cropped at the edge keep their size.
	for i := 0; i < N; i++ {
		out[i] = in[i] && out[N+i]
		out[(N-1)*N+i] = in[(N-1)*N+i] && out[(N-2)*N+i]
		out[i*N] = in[i*N] && out[i*N+1]
		out[i*N+N-1] = in[i*N+N-1] && out[i*N+N-2]
	}
	return out
}

func dilate(in []bool) []bool {
	out := make([]bool, N*N)
	for y := 0; y < N; y++ {
		for x := 0; x < N; x++ {
			if !in[y*N+x] {
				continue
			}
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx >= 0 && yy >= 0 && xx < N && yy < N {
						out[yy*N+xx] = true
					}
				}
			}
		}
	}
	return out
}

// blobColour is the majority palette name of the blob's pixels.
func blobColour(m raster, blob []int) string {
	votes := map[string]int{}
	for _, i := range blob {
		p := m[i]
		votes[world.ColourName(u8(p[0]), u8(p[1]), u8(p[2]))]++
	}
	best, bestN := "none", 0
	for _, c := range world.Colours { // fixed order: ties resolve the same way
		if votes[c] > bestN {
			best, bestN = c, votes[c]
		}
	}
	return best
}

func u8(v float64) uint8 { return uint8(min(max(math.Round(v), 0), 255)) }

// classifyGround compares the median colour of the bottom rows (outside
// the blob) with the world's ground colours at the judged time of day;
// sea and lake both count as "water".
func classifyGround(m raster, blob []int, time, family string) string {
	in := make(map[int]bool, len(blob))
	for _, i := range blob {
		in[i] = true
	}
	var ps []px
	for y := N - 24; y < N; y++ {
		for x := 0; x < N; x++ {
			if !in[y*N+x] {
				ps = append(ps, m[y*N+x])
			}
		}
	}
	if len(ps) < N || time == "unknown" {
		return "unknown"
	}
	p := medianPx(ps)
	best, bestD := "unknown", 70.0 // farther than this from every ground: no verdict
	for _, g := range world.Grounds {
		d := dist(p, px(world.StyleTint(family, world.GroundColour(g, time, 0.85))))
		if d < bestD {
			best, bestD = g, d
		}
	}
	if best == "sea" || best == "lake" {
		return "water"
	}
	return best
}
