package vae

import (
	"fmt"

	"github.com/imggen/imggen/internal/tensor"
)

// Tiling is how DecodeTiled cuts the latents: square tiles of Tile latent
// pixels that overlap their neighbours by Overlap.
type Tiling struct {
	Tile, Overlap int
}

// DefaultTiling decodes tiles of at most 64x64 latent pixels (512 px)
// overlapping by at least 16 (128 px): each tile is one SD-sized decode, and the overlap
// is wide enough that the blend hides where the tiles' GroupNorm
// statistics differ.
var DefaultTiling = Tiling{Tile: 64, Overlap: 16}

// Validate checks that the tiles advance.
func (t Tiling) Validate() error {
	if t.Tile < 8 || t.Overlap < 0 || t.Overlap >= t.Tile/2+1 {
		return fmt.Errorf("vae tiling: tile %d, overlap %d (want tile >= 8 and overlap at most half of it)", t.Tile, t.Overlap)
	}
	return nil
}

// DecodeTiled is Decode done tile by tile, so that the decoder's
// activations are bounded by one tile's whatever the picture's size: the
// latents [1, C, h, w] are cut into overlapping tiles, each decoded alone,
// and the decoded tiles are blended with weights that ramp linearly across
// each overlap (a tile's weight is 1 inside and on the picture's border),
// so no seam shows. Latents no larger than one tile decode as Decode does,
// bit for bit. Each tile normalises with its own GroupNorm statistics, so
// the result differs slightly from an untiled decode.
func (v *VAE) DecodeTiled(latents *tensor.Tensor, t Tiling) (*tensor.Tensor, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if len(latents.Shape) != 4 || latents.Shape[0] != 1 {
		return nil, fmt.Errorf("vae: tiled decode of shape %v, want [1, C, h, w]", latents.Shape)
	}
	if h, w := latents.Shape[2], latents.Shape[3]; h <= t.Tile && w <= t.Tile {
		return v.Decode(latents), nil
	}
	return tiled(latents, t, v.cfg.OutChannels, v.Decode), nil
}

// tiled decodes latents [1, C, h, w] tile by tile with decode, which maps
// [1, C, th, tw] to [1, outCh, 8th, 8tw], and blends the tiles.
func tiled(latents *tensor.Tensor, t Tiling, outCh int, decode func(*tensor.Tensor) *tensor.Tensor) *tensor.Tensor {
	c, h, w := latents.Shape[1], latents.Shape[2], latents.Shape[3]
	ys, th := tileSpans(h, t)
	xs, tw := tileSpans(w, t)
	const up = 8 // latent pixel -> image pixels
	out := tensor.New(1, outCh, up*h, up*w)
	weight := make([]float32, up*h*up*w)
	for _, y0 := range ys {
		wy := ramp(up*y0, up*th, up*h, up*t.Overlap)
		for _, x0 := range xs {
			wx := ramp(up*x0, up*tw, up*w, up*t.Overlap)
			tile := tensor.New(1, c, th, tw)
			for ch := range c {
				for y := range th {
					src := latents.Data[(ch*h+y0+y)*w+x0:]
					copy(tile.Data[(ch*th+y)*tw:(ch*th+y+1)*tw], src[:tw])
				}
			}
			dec := decode(tile)
			ph, pw := up*th, up*tw
			for ch := range outCh {
				for y := range ph {
					row := out.Data[(ch*up*h+up*y0+y)*up*w+up*x0:]
					src := dec.Data[(ch*ph+y)*pw:]
					for x := range pw {
						row[x] += wy[y] * wx[x] * src[x]
					}
				}
			}
			for y := range ph {
				row := weight[(up*y0+y)*up*w+up*x0:]
				for x := range pw {
					row[x] += wy[y] * wx[x]
				}
			}
		}
	}
	plane := len(weight)
	for ch := range outCh {
		for i, wt := range weight {
			out.Data[ch*plane+i] /= wt
		}
	}
	return out
}

// tileSpans cuts a side of n latent pixels into the fewest tiles of at
// most t.Tile that overlap by at least t.Overlap, all of one size and
// evenly spread (the last flush with the end), so little is decoded twice.
func tileSpans(n int, t Tiling) (starts []int, size int) {
	if n <= t.Tile {
		return []int{0}, n
	}
	stride := t.Tile - t.Overlap
	count := (n - t.Overlap + stride - 1) / stride
	size = (n + (count-1)*t.Overlap + count - 1) / count
	for i := range count - 1 {
		starts = append(starts, i*(size-t.Overlap))
	}
	return append(starts, n-size), size
}

// ramp is a tile's blend weight along one axis: a tile covering [start,
// start+size) of a side of total pixels rises linearly over the first and
// last overlap pixels, except at the picture's own border, where it is 1.
func ramp(start, size, total, overlap int) []float32 {
	w := make([]float32, size)
	for i := range w {
		w[i] = 1
		if start > 0 && i < overlap {
			w[i] = float32(i+1) / float32(overlap+1)
		}
		if start+size < total && size-1-i < overlap {
			w[i] = min(w[i], float32(size-i)/float32(overlap+1))
		}
	}
	return w
}
