package judge

import "math"

// styleStats are the cheap texture signatures of the style filters.
type styleStats struct {
	block float64 // pixel art: differences inside 4x4 blocks / across block edges (best grid phase)
	// blockM is block on the median-filtered picture: it survives noise.
	blockM float64
	grain  float64 // mean |pixel - 3x3 median|: canvas, paper grain, hatching
	flat   float64 // share of horizontal neighbours that are (almost) equal
	dark   float64 // share of dark ink pixels on light paper (sketch lines)
	light  float64 // mean lightness
	// chroma is the colour part of the grain: oil's noise differs per
	// channel, watercolor's and sketch's paper grain does not.
	chroma float64
}

func measureStyle(r, m raster) styleStats {
	var s styleStats
	s.block = blockiness(r)
	s.blockM = blockiness(m)
	flat, n := 0, 0
	for y := 0; y < N; y++ {
		for x := 0; x < N; x++ {
			p := r[y*N+x]
			s.grain += l1(p, m[y*N+x]) / 3
			d := px{p[0] - m[y*N+x][0], p[1] - m[y*N+x][1], p[2] - m[y*N+x][2]}
			mean := (d[0] + d[1] + d[2]) / 3
			s.chroma += (math.Abs(d[0]-mean) + math.Abs(d[1]-mean) + math.Abs(d[2]-mean)) / 3
			l := 0.299*p[0] + 0.587*p[1] + 0.114*p[2]
			s.light += l
			ml := 0.299*m[y*N+x][0] + 0.587*m[y*N+x][1] + 0.114*m[y*N+x][2]
			if ml-l > 50 { // a thin dark line on a lighter surround
				s.dark++
			}
			if x+1 < N {
				if l1(p, r[y*N+x+1]) <= 3 {
					flat++
				}
				n++
			}
		}
	}
	s.grain /= N * N
	s.chroma /= N * N
	s.light /= N * N
	s.dark /= N * N
	s.flat = float64(flat) / float64(n)
	return s
}

// blockiness is the mean horizontal neighbour difference inside 4-pixel
// cells over the one across cell edges, for the best of the 4 grid phases.
func blockiness(r raster) float64 {
	best := math.Inf(1)
	for ph := 0; ph < 4; ph++ {
		var in, cross float64
		var nIn, nCross int
		for y := 0; y < N; y++ {
			for x := 0; x+1 < N; x++ {
				d := l1(r[y*N+x], r[y*N+x+1])
				if (x+ph)%4 == 3 {
					cross += d
					nCross++
				} else {
					in += d
					nIn++
				}
			}
		}
		best = min(best, (in/float64(nIn))/(cross/float64(nCross)+1e-3))
	}
	return best
}

func l1(a, b px) float64 { return math.Abs(a[0]-b[0]) + math.Abs(a[1]-b[1]) + math.Abs(a[2]-b[2]) }

// classifyStyle combines the sky's colour mapping (family) with the
// texture signatures.
func classifyStyle(r, m raster, family string) (string, map[string]float64) {
	s := measureStyle(r, m)
	score := map[string]float64{"block": s.block, "blockM": s.blockM, "grain": s.grain, "flat": s.flat, "dark": s.dark, "light": s.light, "chroma": s.chroma}
	switch {
	case family == "sketch" || s.dark > 0.02: // tinted paper, ink lines
		return "sketch", score
	case s.block < 0.35 || (s.blockM < 0.7 && s.flat < 0.5): // 4x4 blocks of one colour (noisy or not)
		return "pixel art", score
	case s.flat > 0.5: // large areas of exactly one colour
		return "plain", score
	case s.chroma > 1.15 || s.block < 0.88: // per-channel 2x2 colour noise
		return "oil painting", score
	}
	return "watercolor", score
}
