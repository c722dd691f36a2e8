package pngout

import (
	"image"
	"math"
	"testing"
)

func TestCompare(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for i := range a.Pix {
		a.Pix[i] = uint8(10 * i)
	}
	shift := func(edits map[int]int) *image.RGBA {
		b := image.NewRGBA(a.Rect)
		copy(b.Pix, a.Pix)
		for i, d := range edits {
			b.Pix[i] = uint8(int(b.Pix[i]) + d)
		}
		return b
	}
	tests := []struct {
		name                   string
		b                      *image.RGBA
		maxLevel, pixels, vals int
	}{
		{"same", shift(nil), 0, 0, 0},
		{"alpha ignored", shift(map[int]int{3: 1}), 0, 0, 0},
		{"one value", shift(map[int]int{0: 1}), 1, 1, 1},
		{"two values of one pixel", shift(map[int]int{4: -2, 5: 1}), 2, 1, 2},
		{"two pixels", shift(map[int]int{0: 3, 30: 1}), 3, 2, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Compare(tc.b, a)
			if err != nil {
				t.Fatal(err)
			}
			if d.MaxLevel != tc.maxLevel || d.PixelsDiffering != tc.pixels || d.ValuesDiffering != tc.vals || d.Pixels != 8 {
				t.Errorf("got %+v, want max level %d, %d pixels, %d values of 8 pixels", d, tc.maxLevel, tc.pixels, tc.vals)
			}
			if want := float64(tc.vals) / 24; d.ValueFraction() != want {
				t.Errorf("ValueFraction %g, want %g", d.ValueFraction(), want)
			}
			if (d.PSNR() == math.Inf(1)) != (tc.vals == 0) {
				t.Errorf("PSNR %g with %d values differing", d.PSNR(), tc.vals)
			}
		})
	}
	if _, err := Compare(image.NewRGBA(image.Rect(0, 0, 4, 3)), a); err == nil {
		t.Error("images of different sizes compared without an error")
	}
}
