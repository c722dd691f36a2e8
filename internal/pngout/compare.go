package pngout

import (
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
)

// Diff summarises how two images of the same size differ.
type Diff struct {
	MaxLevel        int // largest difference of one 8-bit channel value
	PixelsDiffering int // pixels with any channel different
	ValuesDiffering int // channel values (R, G or B) that differ
	Pixels          int
	SumSquares      float64 // sum of squared channel differences (RGB)
}

// PSNR is the peak signal-to-noise ratio in dB over the RGB channels, 8-bit
// peak; +Inf for identical images.
func (d Diff) PSNR() float64 {
	if d.SumSquares == 0 {
		return math.Inf(1)
	}
	mse := d.SumSquares / float64(3*d.Pixels)
	return 10 * math.Log10(255*255/mse)
}

// Fraction is the share of pixels that differ.
func (d Diff) Fraction() float64 { return float64(d.PixelsDiffering) / float64(d.Pixels) }

// ValueFraction is the share of RGB channel values that differ.
func (d Diff) ValueFraction() float64 { return float64(d.ValuesDiffering) / float64(3*d.Pixels) }

// Compare compares the RGB channels of two images of the same bounds.
func Compare(a, b image.Image) (Diff, error) {
	ra, rb := a.Bounds(), b.Bounds()
	if ra.Dx() != rb.Dx() || ra.Dy() != rb.Dy() {
		return Diff{}, fmt.Errorf("image sizes differ: %dx%d vs %dx%d", ra.Dx(), ra.Dy(), rb.Dx(), rb.Dy())
	}
	d := Diff{Pixels: ra.Dx() * ra.Dy()}
	for y := 0; y < ra.Dy(); y++ {
		for x := 0; x < ra.Dx(); x++ {
			r1, g1, b1, _ := a.At(ra.Min.X+x, ra.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(rb.Min.X+x, rb.Min.Y+y).RGBA()
			dr, dg, db := absDiff(r1>>8, r2>>8), absDiff(g1>>8, g2>>8), absDiff(b1>>8, b2>>8)
			d.SumSquares += float64(dr*dr + dg*dg + db*db)
			worst := max(dr, dg, db)
			for _, c := range [3]int{dr, dg, db} {
				if c > 0 {
					d.ValuesDiffering++
				}
			}
			if worst > 0 {
				d.PixelsDiffering++
			}
			d.MaxLevel = max(d.MaxLevel, worst)
		}
	}
	return d, nil
}

func absDiff(a, b uint32) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// Load decodes a PNG file.
func Load(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// DiffImage is a picture of where a and b (same size) differ: black where
// they agree, each channel's difference times gain (clamped) elsewhere, so
// that a one-level difference shows.
func DiffImage(a, b image.Image, gain int) *image.RGBA {
	ra, rb := a.Bounds(), b.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, ra.Dx(), ra.Dy()))
	for y := 0; y < ra.Dy(); y++ {
		for x := 0; x < ra.Dx(); x++ {
			r1, g1, b1, _ := a.At(ra.Min.X+x, ra.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(rb.Min.X+x, rb.Min.Y+y).RGBA()
			o := out.PixOffset(x, y)
			for c, d := range [3]int{absDiff(r1>>8, r2>>8), absDiff(g1>>8, g2>>8), absDiff(b1>>8, b2>>8)} {
				out.Pix[o+c] = uint8(min(d*gain, 255))
			}
			out.Pix[o+3] = 255
		}
	}
	return out
}
