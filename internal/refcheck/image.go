package refcheck

import (
	"image"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
)

// ImageWithin compares img with the PNG at refPath: at most maxLevel off
// in any 8-bit channel, in at most maxShare of the pixels. It logs the
// measured values beside the bar.
func ImageWithin(t testing.TB, img image.Image, refPath string, maxLevel int, maxShare float64) {
	t.Helper()
	ref, err := pngout.Load(refPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := pngout.Compare(img, ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("png: max level diff %d, %d of %d pixels differ (%.3f%%; bar %d level in %.2f%%)",
		d.MaxLevel, d.PixelsDiffering, d.Pixels, 100*d.Fraction(), maxLevel, 100*maxShare)
	if d.MaxLevel > maxLevel || d.Fraction() > maxShare {
		t.Errorf("png differs from %s: max level %d, %.3f%% of pixels", refPath, d.MaxLevel, 100*d.Fraction())
	}
}
