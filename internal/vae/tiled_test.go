package vae

import (
	"math"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/tensor"
)

// TestTiledAssembly checks the cutting and blending on a decoder that
// only looks at each latent pixel (every output pixel a function of the
// latent pixel above it): tiled and untiled must then agree to rounding,
// whatever the tiles, overlaps and sides, square or not.
func TestTiledAssembly(t *testing.T) {
	local := func(z *tensor.Tensor) *tensor.Tensor {
		c, h, w := z.Shape[1], z.Shape[2], z.Shape[3]
		out := tensor.New(1, 3, 8*h, 8*w)
		for o := range 3 {
			for y := range 8 * h {
				for x := range 8 * w {
					v := float32(0)
					for ch := range c {
						v += float32(o+ch+1) * z.Data[(ch*h+y/8)*w+x/8]
					}
					out.Data[(o*8*h+y)*8*w+x] = v
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		h, w int
		t    Tiling
	}{
		{20, 20, Tiling{8, 2}}, {9, 31, Tiling{8, 3}}, {64, 40, Tiling{16, 8}}, {17, 8, Tiling{8, 0}}, {12, 12, Tiling{12, 4}},
	} {
		z := tensor.New(1, 4, c.h, c.w)
		for i := range z.Data {
			z.Data[i] = float32(math.Sin(float64(i)))
		}
		want, got := local(z), tiled(z, c.t, 3, local)
		refcheck.Within(t, "tiled vs whole", got.Data, want.Data, 1e-5)
	}
}

// TestDecodeTiled: a picture of one tile decodes as Decode, bit for bit;
// a larger one differs from the untiled decode only by the tiles' own
// GroupNorm statistics. On the sd1-tiny VAE (random weights, values up to
// about 1.6) with 8x8-latent tiles overlapping by 4, measured: max 0.53,
// mean 0.062; the bars are about twice that. (On SDXL's real shapes with
// random weights, a 1024x1024 decode in the default tiles differs by max
// 0.21, mean 0.019: README, "SDXL".)
func TestDecodeTiled(t *testing.T) {
	v, refs := fixtures(t)
	z := refs["dec_8x12.latents"]
	one, err := v.DecodeTiled(z, Tiling{Tile: 12, Overlap: 4})
	if err != nil {
		t.Fatal(err)
	}
	refcheck.Bitwise(t, "one tile", one.Data, v.Decode(z).Data)
	got, err := v.DecodeTiled(z, Tiling{Tile: 8, Overlap: 4})
	if err != nil {
		t.Fatal(err)
	}
	whole := v.Decode(z)
	var sum float64
	for i := range got.Data {
		sum += math.Abs(float64(got.Data[i] - whole.Data[i]))
	}
	refcheck.Check(t, "8x12 latent in 8x8 tiles overlapping by 4: mean |tiled - untiled|", sum/float64(len(got.Data)), 0.12)
	refcheck.Within(t, "tiled vs untiled decode", got.Data, whole.Data, 1.0)
	if _, err := v.DecodeTiled(z, Tiling{Tile: 8, Overlap: 6}); err == nil {
		t.Error("an overlap above half the tile was accepted")
	}
}
