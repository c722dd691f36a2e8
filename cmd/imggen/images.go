package main

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // init images may be JPEG
	_ "image/png"
	"math"
	"os"

	"github.com/imggen/imggen/internal/pipeline"
)

// maxImageSide bounds the init image and mask before they are decoded, so
// a huge (or hostile) file fails at once instead of exhausting memory.
const maxImageSide = 4096

// readImage decodes a PNG or JPEG file (any colour model the standard
// library reads).
func readImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, fmt.Errorf("%s: not a PNG or JPEG image", path)
		}
		return nil, fmt.Errorf("%s: cannot read image: %v", path, err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxImageSide || cfg.Height > maxImageSide {
		return nil, fmt.Errorf("%s: image is %dx%d; each side must be 1 to %d pixels", path, cfg.Width, cfg.Height, maxImageSide)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt %s image: %v", path, format, err)
	}
	return img, nil
}

// prepareImages loads -i and --mask, settles the output size (-W/-H default
// to the init image's size, rounded down to a multiple of 8) and fills in
// the request. Every failure is a usage error.
func (o *genOptions) prepareImages(req *pipeline.Request, strengthSet bool) error {
	if o.initImage == "" {
		switch {
		case o.mask != "":
			return usagef("--mask needs an init image (-i/--init-image)")
		case o.resize:
			return usagef("--resize needs an init image (-i/--init-image)")
		case strengthSet:
			return usagef("--strength needs an init image (-i/--init-image)")
		}
		return nil
	}
	img, err := readImage(o.initImage)
	if err != nil {
		return usagef("-i/--init-image: %v", err)
	}
	iw, ih := img.Bounds().Dx(), img.Bounds().Dy()
	var mask image.Image
	if o.mask != "" {
		if mask, err = readImage(o.mask); err != nil {
			return usagef("--mask: %v", err)
		}
		if mw, mh := mask.Bounds().Dx(), mask.Bounds().Dy(); mw != iw || mh != ih {
			return usagef("--mask is %dx%d but the init image is %dx%d; they must be the same size", mw, mh, iw, ih)
		}
	}
	if o.widthUnset {
		req.Width = iw / 8 * 8
	}
	if o.heightUnset {
		req.Height = ih / 8 * 8
	}
	o.widthUnset, o.heightUnset = false, false
	if req.Width < 8 || req.Height < 8 {
		return usagef("-i/--init-image %s is %dx%d; it must be at least 8x8", o.initImage, iw, ih)
	}
	if iw != req.Width || ih != req.Height {
		if !o.resize {
			return usagef("the init image is %dx%d but the output is %dx%d (sizes are multiples of 8); pass --resize to scale and crop it, or set -W/-H to match",
				iw, ih, req.Width, req.Height)
		}
		img = resizeCrop(img, req.Width, req.Height)
		if mask != nil {
			mask = resizeCrop(mask, req.Width, req.Height)
		}
	}
	req.InitImage = pipeline.ImageTensor(img)
	if mask != nil {
		req.Mask = pipeline.MaskTensor(mask)
	}
	req.Strength = o.strength
	return nil
}

// resizeCrop scales src to cover w x h (keeping its aspect ratio) with a
// triangle (bilinear, widened when shrinking) filter and crops the centre.
func resizeCrop(src image.Image, w, h int) *image.NRGBA {
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
