package world

import (
	"image"
	"math"
)

// applyStyle turns the canvas into the final picture with the scene's style
// filter. Every filter keeps object pixels close to their palette colour.
func applyStyle(c *canvas, s Scene, seed uint64) *image.RGBA {
	var out *canvas
	switch s.Style {
	case "oil painting":
		out = oil(c, seed)
	case "watercolor":
		out = watercolor(c, seed)
	case "pixel art":
		out = pixelArt(c)
	case "sketch":
		out = sketch(c, seed)
	default:
		out = c
	}
	img := image.NewRGBA(image.Rect(0, 0, Size, Size))
	for i, p := range out.pix {
		img.Pix[4*i] = clamp8(p[0])
		img.Pix[4*i+1] = clamp8(p[1])
		img.Pix[4*i+2] = clamp8(p[2])
		img.Pix[4*i+3] = 255
	}
	return img
}

func clamp8(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}

// oil smears each pixel along a brush direction that changes per 12x12
// cell, then adds a canvas weave and a little colour noise.
func oil(c *canvas, seed uint64) *canvas {
	out := new(canvas)
	out.mask = c.mask
	// Per-cell brush offsets and the weave's sine table, computed once.
	const cells = (Size + 11) / 12
	var offs [cells][cells][5][2]int
	for cy := 0; cy < cells; cy++ {
		for cx := 0; cx < cells; cx++ {
			a := float64(hash01(cx, cy, seed^0x011)) * math.Pi
			dx, dy := math.Cos(a), math.Sin(a)
			for k := -2; k <= 2; k++ {
				offs[cy][cx][k+2] = [2]int{int(math.Round(float64(k) * dx)), int(math.Round(float64(k) * dy))}
			}
		}
	}
	var sines [Size]float64
	for i := range sines {
		sines[i] = math.Sin(float64(i) * 2.2)
	}
	for y := 0; y < Size; y++ {
		for x := 0; x < Size; x++ {
			var sum rgb
			for _, o := range offs[y/12][x/12] {
				p := c.at(x+o[0], y+o[1])
				sum[0] += p[0]
				sum[1] += p[1]
				sum[2] += p[2]
			}
			col := scale(sum, 0.2)
			weave := float32(4 * sines[x] * sines[y])
			n := hash01(x/2, y/2, seed^0x012)
			n2 := hash01(x/2, y/2, seed^0x013)
			col[0] += weave + 12*(n-0.5)
			col[1] += weave + 12*(n2-0.5)
			col[2] += weave + 12*(0.5-n)
			out.pix[y*Size+x] = col
		}
	}
	return out
}

// Paper colours of the watercolor and sketch filters.
var (
	watercolorPaper = rgb{252, 248, 240}
	sketchPaper     = rgb{244, 240, 230}
)

// StyleTint maps a background colour to what the style filter turns it
// into on average (identity for plain, oil painting and pixel art).
func StyleTint(style string, c [3]float64) [3]float64 {
	p := rgb{float32(c[0]), float32(c[1]), float32(c[2])}
	switch style {
	case "watercolor":
		p = mix(p, watercolorPaper, 0.15)
	case "sketch":
		p = mix(sketchPaper, p, 0.45)
	}
	return [3]float64{float64(p[0]), float64(p[1]), float64(p[2])}
}

// watercolor displaces samples a little (bleeding edges), blurs, lightens
// towards the paper and adds paper grain.
func watercolor(c *canvas, seed uint64) *canvas {
	tmp := new(canvas)
	for y := 0; y < Size; y++ {
		for x := 0; x < Size; x++ {
			dx := int(3*hash01(x/3, y/3, seed^0x021)) - 1
			dy := int(3*hash01(x/3, y/3, seed^0x022)) - 1
			tmp.pix[y*Size+x] = c.at(x+dx, y+dy)
		}
	}
	blurred := boxBlur(tmp)
	out := new(canvas)
	out.mask = c.mask
	paper := watercolorPaper
	for y := 0; y < Size; y++ {
		for x := 0; x < Size; x++ {
			i := y*Size + x
			col := mix(blurred.pix[i], paper, 0.15)
			g := 10 * (hash01(x, y, seed^0x023) - 0.5)
			out.pix[i] = rgb{col[0] + g, col[1] + g, col[2] + g}
		}
	}
	return out
}

// boxBlur is a 3x3 mean filter.
func boxBlur(c *canvas) *canvas {
	out := new(canvas)
	for y := 0; y < Size; y++ {
		for x := 0; x < Size; x++ {
			var s rgb
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					p := c.at(x+dx, y+dy)
					s[0] += p[0]
					s[1] += p[1]
					s[2] += p[2]
				}
			}
			out.pix[y*Size+x] = scale(s, 1.0/9)
		}
	}
	return out
}

// pixelArt samples the picture at 32x32 (nearest), quantises every channel
// to 8 levels and scales back up with 4x4 blocks.
func pixelArt(c *canvas) *canvas {
	out := new(canvas)
	out.mask = c.mask
	const step = 255.0 / 7
	for by := 0; by < Size/4; by++ {
		for bx := 0; bx < Size/4; bx++ {
			p := c.at(4*bx+2, 4*by+2)
			for k := range p {
				p[k] = float32(math.Round(float64(p[k])/step) * step)
			}
			for y := 4 * by; y < 4*by+4; y++ {
				for x := 4 * bx; x < 4*bx+4; x++ {
					out.pix[y*Size+x] = p
				}
			}
		}
	}
	return out
}

func lum(p rgb) float32 { return 0.299*p[0] + 0.587*p[1] + 0.114*p[2] }

// sketch draws on tinted paper: dark lines where the picture has edges,
// diagonal hatching in dark areas, and the object as coloured pencil.
func sketch(c *canvas, seed uint64) *canvas {
	out := new(canvas)
	out.mask = c.mask
	paper := sketchPaper
	ink := rgb{45, 45, 55}
	for y := 0; y < Size; y++ {
		for x := 0; x < Size; x++ {
			i := y*Size + x
			p := c.pix[i]
			gx := lum(c.at(x+1, y)) - lum(c.at(x-1, y))
			gy := lum(c.at(x, y+1)) - lum(c.at(x, y-1))
			edge := float32(math.Sqrt(float64(gx*gx + gy*gy)))
			var col rgb
			if c.mask[i] > 0.5 {
				// Coloured pencil: the object colour with lighter strokes.
				col = p
				if (x-y+int(seed%3))%3 == 0 {
					col = mix(p, paper, 0.2)
				}
			} else {
				col = mix(paper, p, 0.45)
				dark := 1 - lum(p)/255
				d := (x + y) % 5
				if (d == 0 && dark > 0.45) || ((x-y+500)%5 == 0 && dark > 0.75) {
					col = mix(col, ink, 0.45)
				}
			}
			if edge > 35 {
				col = mix(col, ink, min((edge-35)/40, 0.85))
			}
			g := 6 * (hash01(x, y, seed^0x031) - 0.5)
			out.pix[i] = rgb{col[0] + g, col[1] + g, col[2] + g}
		}
	}
	return out
}
