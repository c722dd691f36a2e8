package world

import (
	"image"
	"math"
	"math/rand/v2"
)

// Palette is the object colour of each colour word (sRGB). The colours are
// saturated and kept away from the sky and ground colours so that a judge
// can read them back under any light and style.
var Palette = map[string][3]uint8{
	"red":    {225, 25, 30},
	"orange": {255, 130, 0},
	"yellow": {250, 220, 15},
	"green":  {0, 170, 60},
	"blue":   {25, 60, 230},
	"purple": {135, 35, 190},
	"pink":   {255, 90, 185},
	"white":  {250, 250, 250},
	"black":  {15, 15, 15},
	"brown":  {125, 70, 25},
}

// AreaFraction is the rough share of the image an object of each size covers.
var AreaFraction = map[string]float64{"small": 0.06, "medium": 0.12, "big": 0.22}

type rgb [3]float32

func mix(a, b rgb, t float32) rgb {
	return rgb{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t, a[2] + (b[2]-a[2])*t}
}

func mul(a, b rgb) rgb { return rgb{a[0] * b[0], a[1] * b[1], a[2] * b[2]} }

func scale(a rgb, f float32) rgb { return rgb{a[0] * f, a[1] * f, a[2] * f} }

// canvas is the linear working buffer: colour plus object coverage, so the
// style filters can treat the object specially.
type canvas struct {
	pix  [Size * Size]rgb
	mask [Size * Size]float32
}

func (c *canvas) at(x, y int) rgb {
	x = min(max(x, 0), Size-1)
	y = min(max(y, 0), Size-1)
	return c.pix[y*Size+x]
}

// skyStops are the sky gradient from the top row (first) to the horizon.
var skyStops = map[string][]rgb{
	"day":    {{60, 125, 215}, {110, 165, 230}, {165, 205, 240}},
	"sunset": {{85, 45, 120}, {210, 80, 80}, {250, 165, 70}},
	"night":  {{8, 12, 35}, {15, 22, 55}, {32, 42, 88}},
	"dawn":   {{165, 160, 215}, {238, 180, 200}, {250, 228, 170}},
}

// groundLight multiplies ground and relief colours; objects get a little of it.
var groundLight = map[string]rgb{
	"day":    {1, 1, 1},
	"sunset": {0.95, 0.72, 0.6},
	"night":  {0.35, 0.4, 0.6},
	"dawn":   {1, 0.88, 0.92},
}

func skyAt(time string, t float32) rgb {
	st := skyStops[time]
	t = min(max(t, 0), 1) * float32(len(st)-1)
	i := min(int(t), len(st)-2)
	return mix(st[i], st[i+1], t-float32(i))
}

// hash01 is a stateless per-pixel noise in [0,1): textures use it so they
// do not depend on the order of random draws.
func hash01(x, y int, seed uint64) float32 {
	h := uint64(x)*0x9E3779B97F4A7C15 ^ uint64(y)*0xC2B2AE3D27D4EB4F ^ seed
	h ^= h >> 31
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 29
	h *= 0x94D049BB133111EB
	h ^= h >> 32
	return float32(h>>40) / float32(1<<24)
}

// Render draws the scene as a Size x Size picture. The result depends only
// on (s, seed).
func Render(s Scene, seed int64) *image.RGBA {
	c := renderCanvas(s, seed)
	return applyStyle(c, s, uint64(seed))
}

// objectBox is where the object was placed (for tests and for keeping the
// sun away from it).
type placement struct {
	cx, cy float64 // bounding box centre
	hw, hh float64 // half extents
}

func renderCanvas(s Scene, seed int64) *canvas {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ce7e))
	c := new(canvas)
	hy := 60 + rng.IntN(9) // horizon row
	light := groundLight[s.Time]

	// Sky.
	for y := 0; y < hy; y++ {
		col := skyAt(s.Time, float32(y)/float32(hy))
		for x := 0; x < Size; x++ {
			c.pix[y*Size+x] = col
		}
	}
	if s.Time == "night" {
		for i := 0; i < 45; i++ {
			x, y := rng.IntN(Size), rng.IntN(hy-4)
			b := 140 + 115*rng.Float32()
			c.pix[y*Size+x] = rgb{b, b, b * 0.95}
		}
	}

	// Object placement first, so the sun can keep away from it.
	var pl placement
	if s.HasObject() {
		pl = place(s, hy, rng)
	}

	ridge := ridgeHeights(s, rng)

	// Sun or moon.
	lightX := -100.0
	if s.Light != "none" {
		xs := []float64{22, 64, 106}
		best := xs[rng.IntN(3)]
		if s.HasObject() {
			for _, x := range xs {
				if math.Abs(x-pl.cx) > math.Abs(best-pl.cx) {
					best = x
				}
			}
		}
		lightX = best + float64(rng.IntN(11)-5)
		drawLight(c, s, lightX, hy, ridge[min(max(int(lightX), 0), Size-1)], rng)
	}

	// Relief silhouettes stand on the horizon, in front of the sun.
	if s.Relief != "none" {
		drawRidge(c, s, hy, &ridge)
	}

	drawGround(c, s, hy, light, lightX, seed)

	if s.HasObject() {
		drawObject(c, s, pl, light)
	}
	return c
}

// drawLight draws the sun or moon at column lx, always fully above the
// relief (ridge is its height there) so a caption may name it.
func drawLight(c *canvas, s Scene, lx float64, hy int, ridge float64, rng *rand.Rand) {
	var col rgb
	var r, ly float64
	switch s.Time {
	case "day":
		col, r, ly = rgb{255, 248, 215}, 7, 14+float64(rng.IntN(14))
	case "sunset":
		col, r, ly = rgb{255, 105, 45}, 10, float64(hy)-14+float64(rng.IntN(7))
	case "dawn":
		col, r, ly = rgb{255, 235, 170}, 9, float64(hy)-20+float64(rng.IntN(9))
	default:
		col, r, ly = rgb{235, 235, 215}, 7.5, 14+float64(rng.IntN(14))
	}
	ly = max(min(ly, float64(hy)-ridge-r-3), r+1)
	crescent := s.Light == "crescent moon"
	for y := int(ly - r - 4); y <= int(ly+r+4); y++ {
		if y < 0 || y >= hy {
			continue
		}
		for x := int(lx - r - 4); x <= int(lx+r+4); x++ {
			if x < 0 || x >= Size {
				continue
			}
			dx, dy := float64(x)+0.5-lx, float64(y)+0.5-ly
			d := math.Hypot(dx, dy)
			i := y*Size + x
			if s.Time == "day" && d < r+4 { // soft glow around the sun
				c.pix[i] = mix(c.pix[i], col, float32(0.35*(1-(d-r)/4)))
			}
			a := min(max(r+0.5-d, 0), 1)
			if crescent {
				d2 := math.Hypot(dx-r*0.55, dy-r*0.25)
				a *= min(max(d2-r*0.85+0.5, 0), 1)
			}
			c.pix[i] = mix(c.pix[i], col, float32(a))
		}
	}
}

// ridgeHeights returns the height above the horizon of the mountains
// (sharp peaks) or hills (smooth humps) at every column; zeros for none.
func ridgeHeights(s Scene, rng *rand.Rand) (h [Size]float64) {
	switch s.Relief {
	case "mountains":
		n := 3 + rng.IntN(3)
		for p := 0; p < n; p++ {
			px := rng.Float64() * Size
			ph := 16 + rng.Float64()*22
			slope := 0.7 + rng.Float64()*0.6
			for x := 0; x < Size; x++ {
				h[x] = max(h[x], ph-math.Abs(float64(x)-px)*slope)
			}
		}
	case "hills":
		p1, p2 := rng.Float64()*6, rng.Float64()*6
		f1, f2 := 0.03+rng.Float64()*0.03, 0.07+rng.Float64()*0.05
		for x := 0; x < Size; x++ {
			h[x] = 10 + 5*math.Sin(float64(x)*f1+p1) + 3*math.Sin(float64(x)*f2+p2)
		}
	}
	return h
}

// drawRidge paints the relief silhouette in a muted, hazy colour.
func drawRidge(c *canvas, s Scene, hy int, h *[Size]float64) {
	sharp := s.Relief == "mountains"
	base := rgb{95, 100, 128}
	if !sharp {
		base = rgb{75, 120, 75}
		if s.Ground == "desert" {
			base = rgb{195, 160, 110}
		}
	}
	haze := skyAt(s.Time, 1)
	col := mix(mul(base, groundLight[s.Time]), haze, 0.25)
	for x := 0; x < Size; x++ {
		top := float64(hy) - h[x]
		for y := max(int(top), 0); y < hy; y++ {
			a := float32(min(max(float64(y)+1-top, 0), 1))
			shade := float32(1)
			if sharp && y < int(top)+4 && s.Time != "night" {
				shade = 1.25 // light on the crest
			}
			i := y*Size + x
			c.pix[i] = mix(c.pix[i], scale(col, shade), a)
		}
	}
}

func drawGround(c *canvas, s Scene, hy int, light rgb, lightX float64, seed int64) {
	ns := uint64(seed) ^ 0xa11ce
	horizonSky := skyAt(s.Time, 1)
	lightCol := reflection(s.Time)
	for y := hy; y < Size; y++ {
		d := float32(y-hy) / float32(Size-hy) // 0 at horizon, 1 at bottom
		for x := 0; x < Size; x++ {
			var col rgb
			n := hash01(x/3, y, ns)
			switch s.Ground {
			case "sea", "lake":
				col = waterColour(s.Ground, s.Time, d)
				if n > 0.93 { // wave crests
					col = mix(col, horizonSky, 0.5)
				}
				// Reflection of the sun or moon: broken streaks below it.
				if lightX > -50 && s.Light != "none" {
					w := 6 + 10*float64(d)
					if math.Abs(float64(x)-lightX) < w && hash01(x/4, y/2, ns+1) > 0.45 {
						col = mix(col, lightCol, 0.45*(1-d*0.6))
					}
				}
			case "desert":
				dune := 0.9 + 0.1*float32(math.Sin(float64(x)*0.07+float64(y)*0.35+float64(seed%7)))
				col = scale(mul(rgb{225, 185, 115}, light), dune*(0.97+0.06*n))
			default: // grass
				g := mix(rgb{105, 150, 50}, rgb{120, 170, 60}, d)
				col = scale(mul(g, light), 0.9+0.15*n)
			}
			c.pix[y*Size+x] = col
		}
	}
	if s.Ground == "lake" { // far shore: a thin dark green band on the horizon
		for y := hy; y < hy+4; y++ {
			for x := 0; x < Size; x++ {
				c.pix[y*Size+x] = mul(rgb{55, 95, 50}, light)
			}
		}
	}
}

// shapeSize returns the scale parameter of each kind for the target area.
func objectExtents(kind, size string) (hw, hh, p float64) {
	a := AreaFraction[size] * Size * Size
	switch kind {
	case "circle":
		r := math.Sqrt(a / math.Pi)
		return r, r, r
	case "square":
		s := math.Sqrt(a)
		return s / 2, s / 2, s
	case "triangle":
		s := math.Sqrt(2 * a)
		return s / 2, s / 2, s
	case "star":
		r := math.Sqrt(a / 1.3225)
		return r, r * 0.95, r
	case "tree":
		r := math.Sqrt(a / 3.42)
		return r, 1.4 * r, r
	case "house":
		w := math.Sqrt(a / 1.04)
		return 0.575 * w, 0.625 * w, w
	default: // boat
		w := math.Sqrt(a / 0.387)
		return w / 2, 0.51 * w, w
	}
}

func place(s Scene, hy int, rng *rand.Rand) placement {
	hw, hh, _ := objectExtents(s.Kind, s.Size)
	jit := func(n float64) float64 { return (rng.Float64()*2 - 1) * n }
	var cx, cy float64
	switch s.Position {
	case "left":
		cx = Size/6.0 + jit(5)
	case "right":
		cx = Size*5/6.0 + jit(5)
	case "centre":
		cx = Size/2.0 + jit(5)
	default:
		cx = hw + 2 + rng.Float64()*(Size-4-2*hw)
	}
	// Big objects may be cropped a little at the side so that "left" and
	// "right" stay clearly off-centre.
	cx = min(max(cx, 0.9*hw), Size-0.9*hw)
	switch s.Kind {
	case "tree", "house":
		base := float64(hy) + 18 + jit(4)
		if s.Position == "bottom" {
			base = 125
		}
		base = min(max(base, 2*hh+2), 126)
		cy = base - hh
	case "boat":
		// wl is the water line: the hull sits on it, sail above.
		w := 2 * hw
		wl := float64(hy) + 12 + jit(3)
		if s.Position == "bottom" {
			wl = Size - 0.1*w - 3
		}
		wl = max(wl, 0.92*w+2)
		cy = wl + 0.1*w - hh // bottom of hull = wl + 0.1w
	default:
		switch s.Position {
		case "top":
			cy = Size*0.23 + jit(4)
		case "bottom":
			cy = Size*0.77 + jit(4)
		default:
			cy = Size/2.0 + jit(5)
		}
		cy = min(max(cy, hh+1), Size-1-hh)
	}
	return placement{cx, cy, hw, hh}
}

// insideFunc reports which part of the object a point is in: 0 none,
// 1 main colour, 2 darker shade (trunk, roof, mast).
type insideFunc func(x, y float64) int

func objectShape(kind string, pl placement) insideFunc {
	cx, cy, hw, hh := pl.cx, pl.cy, pl.hw, pl.hh
	switch kind {
	case "circle":
		return func(x, y float64) int {
			if (x-cx)*(x-cx)+(y-cy)*(y-cy) <= hw*hw {
				return 1
			}
			return 0
		}
	case "square":
		return func(x, y float64) int {
			if math.Abs(x-cx) <= hw && math.Abs(y-cy) <= hh {
				return 1
			}
			return 0
		}
	case "triangle":
		top, h := cy-hh, 2*hh
		return func(x, y float64) int {
			if y >= top && y <= top+h && math.Abs(x-cx) <= hw*(y-top)/h {
				return 1
			}
			return 0
		}
	case "star":
		var vx, vy [10]float64
		for i := 0; i < 10; i++ {
			r := hw
			if i%2 == 1 {
				r = hw * 0.45
			}
			a := -math.Pi/2 + float64(i)*math.Pi/5
			vx[i], vy[i] = cx+r*math.Cos(a), cy+0.05*hw+r*math.Sin(a)
		}
		return func(x, y float64) int {
			in := false
			for i, j := 0, 9; i < 10; j, i = i, i+1 {
				if (vy[i] > y) != (vy[j] > y) && x < (vx[j]-vx[i])*(y-vy[i])/(vy[j]-vy[i])+vx[i] {
					in = !in
				}
			}
			if in {
				return 1
			}
			return 0
		}
	case "tree":
		r := hw
		ccy := cy - hh + r // canopy centre
		trunkTop, base := ccy+0.6*r, cy+hh
		return func(x, y float64) int {
			if (x-cx)*(x-cx)+(y-ccy)*(y-ccy) <= r*r {
				return 1
			}
			if y >= trunkTop && y <= base && math.Abs(x-cx) <= 0.18*r {
				return 2
			}
			return 0
		}
	case "house":
		w := hw / 0.575
		base := cy + hh
		wallTop := base - 0.75*w
		roofTop := wallTop - 0.5*w
		return func(x, y float64) int {
			dx := math.Abs(x - cx)
			if y >= wallTop && y <= base && dx <= w/2 {
				if dx <= 0.1*w && y >= base-0.35*w { // door
					return 2
				}
				return 1
			}
			if y >= roofTop && y < wallTop && dx <= 0.575*w*(y-roofTop)/(0.5*w) {
				return 2
			}
			return 0
		}
	default: // boat
		w := 2 * hw
		bottom := cy + hh
		hullTop := bottom - 0.22*w
		sailTop := hullTop - 0.8*w
		return func(x, y float64) int {
			dx := x - cx
			if y >= hullTop && y <= bottom {
				t := (y - hullTop) / (0.22 * w)
				if math.Abs(dx) <= w/2*(1-0.3*t) {
					return 1
				}
			}
			if y >= sailTop && y < hullTop {
				if math.Abs(dx+0.03*w) <= 0.015*w+0.5 { // mast
					return 2
				}
				t := (y - sailTop) / (0.8 * w)
				if dx >= 0.0 && dx <= 0.5*w*t {
					return 1
				}
			}
			return 0
		}
	}
}

func drawObject(c *canvas, s Scene, pl placement, light rgb) {
	p := Palette[s.Colour]
	base := rgb{float32(p[0]), float32(p[1]), float32(p[2])}
	// Light tints the object only slightly so its colour stays readable.
	tint := mix(rgb{1, 1, 1}, light, 0.15)
	main := mul(base, tint)
	dark := scale(main, 0.75)
	outline := scale(main, 0.45)
	if s.Colour == "black" {
		dark = rgb{55, 50, 45}
		outline = rgb{125, 125, 135} // a pale rim keeps black visible at night
	}
	in := objectShape(s.Kind, pl)
	x0, x1 := max(int(pl.cx-pl.hw)-2, 0), min(int(pl.cx+pl.hw)+3, Size)
	y0, y1 := max(int(pl.cy-pl.hh)-2, 0), min(int(pl.cy+pl.hh)+3, Size)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			var cov [3]float32
			for sy := 0; sy < 2; sy++ {
				for sx := 0; sx < 2; sx++ {
					cov[in(float64(x)+0.25+0.5*float64(sx), float64(y)+0.25+0.5*float64(sy))] += 0.25
				}
			}
			if cov[0] == 1 {
				continue
			}
			i := y*Size + x
			c.pix[i] = rgb{
				c.pix[i][0]*cov[0] + main[0]*cov[1] + dark[0]*cov[2],
				c.pix[i][1]*cov[0] + main[1]*cov[1] + dark[1]*cov[2],
				c.pix[i][2]*cov[0] + main[2]*cov[1] + dark[2]*cov[2],
			}
			c.mask[i] = 1 - cov[0]
		}
	}
	// Outline: one pixel ring just outside the shape.
	var ring []int
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			i := y*Size + x
			if c.mask[i] >= 0.5 {
				continue
			}
			if (x > 0 && c.mask[i-1] >= 0.5) || (x < Size-1 && c.mask[i+1] >= 0.5) ||
				(y > 0 && c.mask[i-Size] >= 0.5) || (y < Size-1 && c.mask[i+Size] >= 0.5) {
				ring = append(ring, i)
			}
		}
	}
	for _, i := range ring {
		c.pix[i] = outline
		c.mask[i] = 1
	}
}

// reflection is the colour of the sun's or moon's streaks on water.
func reflection(time string) rgb {
	switch time {
	case "night":
		return rgb{200, 200, 190}
	case "sunset":
		return rgb{255, 150, 70}
	}
	return rgb{255, 245, 215}
}

// ReflectionColour is the plain-style colour the sun or moon lends to water
// (streaks mix it about half and half with the water colour).
func ReflectionColour(time string) [3]float64 {
	c := reflection(time)
	return [3]float64{float64(c[0]), float64(c[1]), float64(c[2])}
}

// waterColour is the sea or lake colour at depth d (0 at the horizon, 1
// at the bottom row), before waves and reflections.
func waterColour(ground, time string, d float32) rgb {
	base := mix(rgb{35, 100, 170}, rgb{15, 60, 125}, d)
	if ground == "lake" {
		base = mix(rgb{50, 120, 140}, rgb{25, 80, 100}, d)
	}
	return mix(mul(base, groundLight[time]), skyAt(time, 1), 0.4*(1-d))
}

// GroundColour is the typical plain-style colour of the ground at depth d
// (0 at the horizon, 1 at the bottom row), without texture.
func GroundColour(ground, time string, d float64) [3]float64 {
	var c rgb
	switch ground {
	case "sea", "lake":
		c = waterColour(ground, time, float32(d))
	case "desert":
		c = scale(mul(rgb{225, 185, 115}, groundLight[time]), 0.96)
	default:
		c = scale(mul(mix(rgb{105, 150, 50}, rgb{120, 170, 60}, float32(d)), groundLight[time]), 0.975)
	}
	return [3]float64{float64(c[0]), float64(c[1]), float64(c[2])}
}

// SkyColour is the plain-style sky colour at fraction t of the way from
// the top row (0) to the horizon (1), for a judge that knows the world.
func SkyColour(time string, t float64) [3]float64 {
	c := skyAt(time, float32(t))
	return [3]float64{float64(c[0]), float64(c[1]), float64(c[2])}
}

// ReliefColours are the plain-style silhouette colours of mountains, green
// hills and sandy hills at the given time of day.
func ReliefColours(time string) [][3]float64 {
	haze := skyAt(time, 1)
	var out [][3]float64
	for _, base := range []rgb{{95, 100, 128}, {75, 120, 75}, {195, 160, 110}} {
		c := mix(mul(base, groundLight[time]), haze, 0.25)
		out = append(out, [3]float64{float64(c[0]), float64(c[1]), float64(c[2])})
	}
	return out
}
