package pipeline

import (
	"image"
	"image/color"
	"math"
)

// ResizeCrop scales src to cover w x h (keeping its aspect ratio) with a
// triangle (bilinear, widened when shrinking) filter and crops the centre.
func ResizeCrop(src image.Image, w, h int) *image.NRGBA {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	scale := max(float64(w)/float64(sw), float64(h)/float64(sh))
	// The scaled image is sw*scale x sh*scale; the crop starts at ox, oy.
	ox := (float64(sw)*scale - float64(w)) / 2
	oy := (float64(sh)*scale - float64(h)) / 2
	xw := filterWeights(w, sw, scale, ox)
	yw := filterWeights(h, sh, scale, oy)

	// Straight (not premultiplied) colour, as PIL resizes an RGB image.
	pix := make([]float64, sw*sh*3)
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			c := color.NRGBAModel.Convert(src.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			o := (y*sw + x) * 3
			pix[o], pix[o+1], pix[o+2] = float64(c.R), float64(c.G), float64(c.B)
		}
	}
	rows := make([]float64, sw*h*3) // vertical pass first
	for y, ws := range yw {
		for x := 0; x < sw; x++ {
			for c := 0; c < 3; c++ {
				var s float64
				for _, t := range ws {
					s += t.w * pix[(t.i*sw+x)*3+c]
				}
				rows[(y*sw+x)*3+c] = s
			}
		}
	}
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x, ws := range xw {
			o := out.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				var s float64
				for _, t := range ws {
					s += t.w * rows[(y*sw+t.i)*3+c]
				}
				out.Pix[o+c] = uint8(min(max(math.Round(s), 0), 255))
			}
			out.Pix[o+3] = 255
		}
	}
	return out
}

type tap struct {
	i int
	w float64
}

// filterWeights gives, for each of n output samples, the source samples
// (of m) and normalised triangle-filter weights, for scale factor scale and
// crop offset off (in output pixels).
func filterWeights(n, m int, scale, off float64) [][]tap {
	support := max(1, 1/scale) // widen the filter when shrinking
	out := make([][]tap, n)
	for j := range out {
		centre := (float64(j)+off+0.5)/scale - 0.5
		lo := int(math.Floor(centre - support))
		hi := int(math.Ceil(centre + support))
		var sum float64
		var taps []tap
		for i := lo; i <= hi; i++ {
			wt := 1 - math.Abs(float64(i)-centre)/support
			if wt <= 0 {
				continue
			}
			taps = append(taps, tap{min(max(i, 0), m-1), wt})
			sum += wt
		}
		if sum == 0 { // cannot happen for support >= 1; keep the nearest sample
			taps, sum = []tap{{min(max(int(math.Round(centre)), 0), m-1), 1}}, 1
		}
		for k := range taps {
			taps[k].w /= sum
		}
		out[j] = taps
	}
	return out
}
