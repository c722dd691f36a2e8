package nn

import (
	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/vmath"
)

// Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray, 2016) for the
// 3x3, stride 1, padding 1 convolutions of precision FP32Winograd: each
// 2x2 block of outputs comes from a 4x4 tile d of the padded input as
//
//	Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// so the 9 multiply-adds per output and input channel become 16 per four
// outputs (2.25x fewer), done as 16 matrix products, one per tile
// position ξ: M_ξ[tile, o] = Σ_c V_ξ[tile, c]·U_ξ[c, o]. The transforms
// only add, subtract and halve, but the sums are taken in another order and
// over transformed values, so the results differ from the direct
// convolution's in the last bits (measured in TestWinogradConv and
// TestWinogradRuns).
// winograd reports whether the convolution of an image w wide runs by
// Winograd's method: precision FP32Winograd, 3x3, stride 1, padding 1,
// an image wide enough that the per-call weight transform (16/9 of the
// weights) is small beside the work it saves, and channels enough that the
// transforms (per channel and pixel) are small beside the products (per
// channel pair and pixel). Measured on Zen 5 (go test ./internal/nn -bench
// 'Conv3x3|ConvHalf'): 512 channels at 128x128 1.55x and 256 at 256x256
// 1.28x faster than the direct form, 320 at 64x64 and 640 at 32x32
// 1.15-1.6x, but 128 at 256x256 0.92x, 128 at 512x512 even and 320 at
// 32x32 0.9x.
func (c *Conv2d) winograd(w int) bool {
	ch := min(c.In, c.Out)
	return CurrentPrecision() == FP32Winograd && c.K == 3 && c.Stride == 1 && c.PadT == 1 && c.PadL == 1 &&
		c.PadB == 1 && c.PadR == 1 && w >= shiftedMinWidth && ch >= minWinogradChannels && ch*w >= 64*minWinogradChannels
}

// minWinogradChannels is the fewest channels a Winograd convolution has (a
// variable for tests).
var minWinogradChannels = 256

// convolveWinograd is convolve for a 3x3, stride-1, padding-1 convolution
// by F(2x2, 3x3). Everything stays channels first, tiles along the rows:
// V_ξ[c, tile] (the input transform, one channel's tile row at a time),
// Mᵀ_ξ[o, tile] = Uᵀ_ξ[o, c]·V_ξ[c, tile] (the weights as A, read in
// place; V packed as B), then the output transform per channel. Bands of
// tile rows keep V and M within maxIm2colFloats.
func (c *Conv2d) convolveWinograd(x *tensor.Tensor) *tensor.Tensor {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	y := tensor.New(n, c.Out, h, w)
	th, tw := (h+1)/2, (w+1)/2
	u := c.winogradWeights()
	defer putFloats(u)
	band := max(1, min(th, maxIm2colFloats/(16*tw*max(c.In, c.Out))))
	vBuf, mBuf := getFloats(16*band*tw*c.In), getFloats(16*band*tw*c.Out)
	defer putFloats(vBuf)
	defer putFloats(mBuf)
	for i := 0; i < n; i++ {
		img := x.Data[i*c.In*h*w : (i+1)*c.In*h*w]
		out := y.Data[i*c.Out*h*w : (i+1)*c.Out*h*w]
		for ty0 := 0; ty0 < th; ty0 += band {
			rows := min(band, th-ty0)
			tiles := rows * tw
			v, m := (*vBuf)[:16*tiles*c.In], (*mBuf)[:16*tiles*c.Out]
			winogradInput(v, img, c.In, h, w, ty0, rows, tw)
			for xi := 0; xi < 16; xi++ {
				gemm.Sgemm(c.Out, tiles, c.In, (*u)[xi*c.Out*c.In:], c.In, v[xi*c.In*tiles:], tiles, m[xi*c.Out*tiles:], tiles, Threads())
			}
			winogradOutput(out, m, c.b, c.Out, h, w, ty0, rows, tw)
		}
	}
	return y
}

// winogradWeights returns Uᵀ_ξ[o, c] = (G g_oc Gᵀ)_ξ for the 16 positions,
// [16][Out][In], in pooled memory.
func (c *Conv2d) winogradWeights() *[]float32 {
	buf := getFloats(16 * c.Out * c.In)
	u := *buf
	kk := c.In * 9
	parallelFor(c.Out, 4, func(o0, o1 int) {
		row := make([]float32, kk)
		for o := o0; o < o1; o++ {
			if c.w.F16 != nil {
				vmath.WidenF16(row, c.w.F16[o*kk:(o+1)*kk])
			} else {
				copy(row, c.w.F32[o*kk:(o+1)*kk])
			}
			for ch := 0; ch < c.In; ch++ {
				g := row[ch*9 : ch*9+9]
				// t = G g (4x3), then t Gᵀ (4x4).
				var t [4][3]float32
				for j := 0; j < 3; j++ {
					g0, g1, g2 := g[j], g[3+j], g[6+j]
					t[0][j] = g0
					t[1][j] = (g0 + g1 + g2) * 0.5
					t[2][j] = (g0 - g1 + g2) * 0.5
					t[3][j] = g2
				}
				for r := 0; r < 4; r++ {
					a, b, cc := t[r][0], t[r][1], t[r][2]
					base := (r*4)*c.Out*c.In + o*c.In + ch
					step := c.Out * c.In
					u[base] = a
					u[base+step] = (a + b + cc) * 0.5
					u[base+2*step] = (a - b + cc) * 0.5
					u[base+3*step] = cc
				}
			}
		}
	})
	return buf
}

// winogradInput writes V_ξ[c, tile] = (Bᵀ d B)_ξ for the tiles of tile
// rows [ty0, ty0+rows) of one image, d being the 4x4 input block at
// (2ty-1, 2tx-1), zero outside the image; v is [16][ch][rows*tw]. Per
// channel, each input row's column transform (d B, four values per tile)
// is computed once and shared by the two tile rows that read it.
func winogradInput(v, img []float32, ch, h, w, ty0, rows, tw int) {
	tiles := rows * tw
	parallelFor(ch, 1, func(c0, c1 int) {
		// hr[y'][k][tx]: row y0-1+y' of the band's input, transformed.
		hr := make([]float32, (2*rows+2)*4*tw)
		pad := make([]float32, 2*tw+2) // a row with its zero border
		even, odd := make([]float32, tw+1), make([]float32, tw+1)
		for c := c0; c < c1; c++ {
			plane := img[c*h*w : (c+1)*h*w]
			for yy := 0; yy < 2*rows+2; yy++ {
				y := 2*ty0 - 1 + yy
				clear(pad)
				if y >= 0 && y < h {
					copy(pad[1:], plane[y*w:(y+1)*w])
				}
				// Columns 2tx-1 .. 2tx+2 of tile tx are even[tx], odd[tx],
				// even[tx+1], odd[tx+1] of the bordered row.
				for j := range even {
					even[j], odd[j] = pad[2*j], pad[2*j+1]
				}
				e := hr[yy*4*tw : (yy+1)*4*tw]
				vmath.WinogradIn4(even, odd, even[1:], odd[1:], e[:tw], e[tw:2*tw], e[2*tw:3*tw], e[3*tw:])
			}
			for tr := 0; tr < rows; tr++ {
				for k := 0; k < 4; k++ {
					r0 := hr[((2*tr)*4+k)*tw:][:tw]
					r1 := hr[((2*tr+1)*4+k)*tw:][:tw]
					r2 := hr[((2*tr+2)*4+k)*tw:][:tw]
					r3 := hr[((2*tr+3)*4+k)*tw:][:tw]
					at := func(xi int) []float32 { return v[(xi*ch+c)*tiles+tr*tw:][:tw] }
					vmath.WinogradIn4(r0, r1, r2, r3, at(k), at(4+k), at(8+k), at(12+k))
				}
			}
		}
	})
}

// winogradOutput writes Aᵀ m A + bias for every tile and output channel
// into out [outCh][h][w] (the outputs inside the image); m is
// [16][outCh][rows*tw]. Each channel's rows are written whole.
func winogradOutput(out, m, bias []float32, outCh, h, w, ty0, rows, tw int) {
	tiles := rows * tw
	parallelFor(outCh, 1, func(o0, o1 int) {
		row := make([]float32, 2*tw)
		cols := make([]float32, 8*tw) // row r of Aᵀ q, column k at (4r+k)*tw
		left, right := make([]float32, tw), make([]float32, tw)
		for o := o0; o < o1; o++ {
			b := bias[o]
			for tr := 0; tr < rows; tr++ {
				at := func(xi int) []float32 { return m[(xi*outCh+o)*tiles+tr*tw:][:tw] }
				// Aᵀ q over the rows of q: rows 0 and 1 of each column k.
				for k := 0; k < 4; k++ {
					vmath.WinogradOut2(at(k), at(4+k), at(8+k), at(12+k), cols[k*tw:(k+1)*tw], cols[(4+k)*tw:(5+k)*tw])
				}
				for r := 0; r < 2 && 2*(ty0+tr)+r < h; r++ {
					// Then A over the columns: outputs 2tx and 2tx+1.
					c := cols[4*r*tw : 4*(r+1)*tw]
					vmath.WinogradOut2(c[:tw], c[tw:2*tw], c[2*tw:3*tw], c[3*tw:], left, right)
					for tx := range left {
						row[2*tx], row[2*tx+1] = left[tx]+b, right[tx]+b
					}
					y := 2*(ty0+tr) + r
					copy(out[(o*h+y)*w:][:w], row)
				}
			}
		}
	})
}

// WinogradEverywhere makes precision FP32Winograd take every 3x3, stride-1
// convolution, whatever its size, until the returned function restores
// the defaults: a test hook, so that the tiny fixture models (whose
// layers are below the thresholds) measure the method's error. Not safe
// to call while networks run.
func WinogradEverywhere() (restore func()) {
	prevMin, prevCh := shiftedMinWidth, minWinogradChannels
	shiftedMinWidth, minWinogradChannels = 1, 1
	return func() { shiftedMinWidth, minWinogradChannels = prevMin, prevCh }
}
