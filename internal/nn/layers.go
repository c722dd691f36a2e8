package nn

import (
	"fmt"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/reuse"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/vmath"
	"github.com/imggen/imggen/internal/weights"
)

// Linear is y = x·Wᵀ + b over the last dimension.
type Linear struct {
	In, Out int
	w       weights.Matrix // [Out, In] as stored
	b       []float32      // nil without bias
	lowRank []LowRank      // LoRA updates added to the output
	own     weights.Matrix // the loaded weights while w is a merged copy
}

// LoadLinear reads "weight" [out, in] and, if bias, "bias" [out].
func LoadLinear(l weights.Loader, in, out int, bias bool) *Linear {
	lin := &Linear{In: in, Out: out, w: l.Matrix("weight", out, in)}
	if bias {
		lin.b = l.Tensor("bias", out).Data
	}
	l.Record(lin)
	return lin
}

// Forward maps x [..., In] to [..., Out].
func (lin *Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	rows := x.Numel() / lin.In
	y := tensor.New(lin.outShape(x)...)
	lin.forwardInto(y.Data, x, rows)
	addLowRank(y, x, lin.lowRank)
	return y
}

// outShape is the shape of the layer's output for x: x's with the last
// dimension Out.
func (lin *Linear) outShape(x *tensor.Tensor) []int {
	return append(append([]int(nil), x.Shape[:len(x.Shape)-1]...), lin.Out)
}

// forwardInto writes the layer's output for x (rows of In) to y, which it
// overwrites whatever it holds.
func (lin *Linear) forwardInto(y []float32, x *tensor.Tensor, rows int) {
	lin.product(y, x, rows)
	if lin.b != nil {
		parallelFor(rows, 64, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				row := y[r*lin.Out : (r+1)*lin.Out]
				for j, v := range lin.b {
					row[j] += v
				}
			}
		})
	}
}

// product writes x·Wᵀ, without the bias, to y.
func (lin *Linear) product(y []float32, x *tensor.Tensor, rows int) {
	if bf16() {
		lin.forwardBF16(y, x, rows)
		return
	}
	lin.productRows(y, x.Data, lin.In, rows)
}

// productRows is the float32 product for rows of x that start ldx apart.
func (lin *Linear) productRows(y, x []float32, ldx, rows int) {
	if lin.w.F16 != nil {
		gemm.SgemmNTHalf(rows, lin.Out, lin.In, x, ldx, lin.w.F16, lin.In, y, lin.Out, Threads())
	} else {
		gemm.SgemmNT(rows, lin.Out, lin.In, x, ldx, lin.w.F32, lin.In, y, lin.Out, Threads())
	}
}

// Conv2d is a 2-D convolution computed as a matrix product over im2col
// patches. Padding is given per side because the VAE encoder pads
// asymmetrically.
type Conv2d struct {
	In, Out, K, Stride     int
	PadT, PadL, PadB, PadR int
	w                      weights.Matrix // [Out, In*K*K]
	b                      []float32
	lowRank                []LowRank      // LoRA updates added to the output
	own                    weights.Matrix // the loaded weights while w is a merged copy
}

// LoadConv2d reads "weight" [out, in, k, k] and "bias" [out]; padding is
// the same on all sides.
func LoadConv2d(l weights.Loader, in, out, k, stride, pad int) *Conv2d {
	w := l.Matrix("weight", out, in, k, k)
	b := l.Tensor("bias", out)
	c := &Conv2d{In: in, Out: out, K: k, Stride: stride, PadT: pad, PadL: pad, PadB: pad, PadR: pad, w: w, b: b.Data}
	l.Record(c)
	return c
}

// OutSize returns the output height and width for an input of h x w.
func (c *Conv2d) OutSize(h, w int) (int, int) {
	return (h+c.PadT+c.PadB-c.K)/c.Stride + 1, (w+c.PadL+c.PadR-c.K)/c.Stride + 1
}

// Forward convolves x [N, In, H, W] (and adds the LoRA updates).
func (c *Conv2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := c.convolve(x)
	addLowRank(y, x, c.lowRank)
	return y
}

func (c *Conv2d) convolve(x *tensor.Tensor) *tensor.Tensor {
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if ch != c.In {
		panic(fmt.Sprintf("conv2d: %d input channels, want %d", ch, c.In))
	}
	if c.bf16Conv() {
		return c.convolveBF16(x)
	}
	if c.winograd(w) {
		return c.convolveWinograd(x)
	}
	oh, ow := c.OutSize(h, w)
	y := tensor.New(n, c.Out, oh, ow)
	kk := c.In * c.K * c.K
	pixels := oh * ow
	if c.K == 1 && c.Stride == 1 && c.PadT+c.PadL+c.PadB+c.PadR == 0 {
		for i := 0; i < n; i++ {
			out := y.Data[i*c.Out*pixels : (i+1)*c.Out*pixels]
			c.weightsTimes(out, x.Data[i*ch*h*w:(i+1)*ch*h*w], pixels, pixels)
			addChannelBias(out, c.b, pixels)
		}
		return y
	}
	// The shifted-rows form computes two extra columns per image row: worth
	// it from about 32 columns on (measured: 1.3x faster at 64x64 and
	// 256x256, 0.8x at 8x8).
	if c.shifted(w) {
		wp := packedWeights(c.w)
		defer wp.release()
		for i := 0; i < n; i++ {
			c.forwardShifted(y.Data[i*c.Out*pixels:(i+1)*c.Out*pixels], x.Data[i*ch*h*w:(i+1)*ch*h*w], wp.pb, h, w)
		}
		return y
	}
	// Small images (the U-Net's lower levels, whose weights are the
	// largest): one product for the whole batch, the images' patches side
	// by side, so that the weights are read and widened once, not once per
	// image.
	if n > 1 && kk*n*pixels <= maxIm2colFloats {
		np := n * pixels
		patches := packedPatchesPool.Get()
		defer packedPatchesPool.Put(patches)
		patches.pb = c.packedPatches(patches.pb, x, oh, ow)
		wideBuf := getFloats(c.Out * np)
		defer putFloats(wideBuf)
		wide := *wideBuf
		if c.w.F16 != nil {
			gemm.SgemmHalfAPacked(c.Out, c.w.F16, kk, patches.pb, wide, np, Threads())
		} else {
			gemm.SgemmPacked(c.Out, c.w.F32, kk, patches.pb, wide, np, Threads())
		}
		parallelFor(c.Out, 8, func(o0, o1 int) {
			for o := o0; o < o1; o++ {
				for i := 0; i < n; i++ {
					dst := y.Data[(i*c.Out+o)*pixels : (i*c.Out+o+1)*pixels]
					for p, v := range wide[o*np+i*pixels : o*np+(i+1)*pixels] {
						dst[p] = v + c.b[o]
					}
				}
			}
		})
		return y
	}
	// The patch matrix of a whole 512 px VAE layer would take gigabytes, so
	// build it for bands of output rows; the sums per output are unchanged.
	band := max(1, min(oh, maxIm2colFloats/(kk*ow)))
	colsBuf := getFloats(kk * band * ow) // im2col writes every element
	defer putFloats(colsBuf)
	cols := *colsBuf
	for i := 0; i < n; i++ {
		img := x.Data[i*ch*h*w : (i+1)*ch*h*w]
		out := y.Data[i*c.Out*pixels : (i+1)*c.Out*pixels]
		for y0 := 0; y0 < oh; y0 += band {
			rows := min(band, oh-y0)
			bp := rows * ow
			c.im2col(cols[:kk*bp], bp, img, h, w, y0, rows, ow)
			c.weightsTimes(out[y0*ow:], cols[:kk*bp], bp, pixels)
		}
		addChannelBias(out, c.b, pixels)
	}
	return y
}

// tokenLayout reports whether the 1x1 convolution can run in the token
// layout (ForwardTokens, ForwardFromTokens): float32, no LoRA side path.
func (c *Conv2d) tokenLayout() bool {
	return c.K == 1 && c.Stride == 1 && c.PadT+c.PadL+c.PadB+c.PadR == 0 && len(c.lowRank) == 0 && !bf16()
}

// ForwardTokens is ToTokens(c.Forward(x)) for a 1x1 convolution (a
// transformer's proj_in), the same bits, computed in the token layout:
// tokens[pixel, o] = Σ_c x[c, pixel]·W[o, c] + b[o], the image read in
// place as the offset operand of gemm.SgemmOffA (column c of it is
// channel c's plane), so neither the channels-first output nor the
// transpose is made.
//
// Measured (2-core Xeon, batch 2, float16 weights): 24-27% faster than the
// two steps at 320 channels over 32x32 and 64x64, 8% at 640 over 16x16,
// 7% slower at 1280 over 8x8 (64 rows per product), so images under 256
// pixels take the two steps.
func (c *Conv2d) ForwardTokens(x *tensor.Tensor) *tensor.Tensor {
	n, ch := x.Shape[0], x.Shape[1]
	pixels := x.Numel() / (n * ch)
	if !c.tokenLayout() || pixels < 256 {
		return ToTokens(c.Forward(x))
	}
	if ch != c.In {
		panic(fmt.Sprintf("conv2d: %d input channels, want %d", ch, c.In))
	}
	y := tensor.New(n, pixels, c.Out)
	wp := packedWeights(c.w)
	defer wp.release()
	planes := make([]int, c.In)
	for i := range planes {
		planes[i] = i * pixels
	}
	for i := 0; i < n; i++ {
		out := y.Data[i*pixels*c.Out : (i+1)*pixels*c.Out]
		gemm.SgemmOffA(pixels, x.Data[i*ch*pixels:(i+1)*ch*pixels], planes, wp.pb, out, c.Out, Threads())
	}
	parallelFor(n*pixels, 64, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			row := y.Data[r*c.Out : (r+1)*c.Out]
			for o, v := range c.b {
				row[o] += v
			}
		}
	})
	return y
}

// ForwardFromTokens is c.Forward(FromTokens(t, h, w)) for a 1x1
// convolution (a transformer's proj_out), the same bits: out[o, pixel] =
// Σ_c W[o, c]·t[pixel, c] + b[o], the tokens being the transposed
// right-hand operand, so the channels-first input is never made.
func (c *Conv2d) ForwardFromTokens(t *tensor.Tensor, h, w int) *tensor.Tensor {
	if !c.tokenLayout() {
		return c.Forward(FromTokens(t, h, w))
	}
	n, pixels, ch := t.Shape[0], t.Shape[1], t.Shape[2]
	if ch != c.In || pixels != h*w {
		panic(fmt.Sprintf("conv2d: tokens %v for %d channels at %dx%d", t.Shape, c.In, h, w))
	}
	y := tensor.New(n, c.Out, h, w)
	for i := 0; i < n; i++ {
		out := y.Data[i*c.Out*pixels : (i+1)*c.Out*pixels]
		bt := t.Data[i*pixels*ch : (i+1)*pixels*ch]
		if c.w.F16 != nil {
			gemm.SgemmHalfANT(c.Out, pixels, c.In, c.w.F16, c.In, bt, ch, out, pixels, Threads())
		} else {
			gemm.SgemmNT(c.Out, pixels, c.In, c.w.F32, c.In, bt, ch, out, pixels, Threads())
		}
		addChannelBias(out, c.b, pixels)
	}
	return y
}

// weightsTimes computes out = W·b for b [In*K*K, n] (leading dimension n)
// into out [Out, n] with leading dimension ldc, reading float16 weights
// as they are stored (gemm widens them block by block).
func (c *Conv2d) weightsTimes(out, b []float32, n, ldc int) {
	kk := c.In * c.K * c.K
	if c.w.F16 != nil {
		gemm.SgemmHalfA(c.Out, n, kk, c.w.F16, kk, b, n, out, ldc, Threads())
		return
	}
	gemm.Sgemm(c.Out, n, kk, c.w.F32, kk, b, n, out, ldc, Threads())
}

// forwardShifted computes a 3x3, stride 1, pad 1 convolution of one image
// without a patch matrix. In the image padded by one pixel on every side,
// row (c, ky, kx) of the patch matrix is channel c's padded plane shifted by
// ky rows and kx columns, one contiguous run. The product is taken with
// pixels as rows, out[pixel, o] = Σ patch(pixel, p)·W[o, p], so that the
// weights are the packed operand (a few MB, packed once per call) and the
// image is read in place through those runs (gemm.SgemmOffA): packing
// the image instead costs a pass over 9x its size, which made this layer
// 1.3-1.8x slower. It runs on a grid two columns wider than the image,
// whose extra columns are dropped as the result is transposed back to
// channels first. The sums, and so the bits, are those of the im2col path.
func (c *Conv2d) forwardShifted(out, img []float32, wp *gemm.PackedB, h, w int) {
	pp := getPadded(c.In, h, w)
	defer putFloats(pp)
	padded := *pp
	parallelFor(c.In, 8, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			for iy := 0; iy < h; iy++ {
				copy(padded[paddedRow(ch, iy, h, w):], img[(ch*h+iy)*w:(ch*h+iy+1)*w])
			}
		}
	})
	c.shiftedProduct(out, padded, wp, h, w)
}

// getPadded returns pooled room for ch planes of h x w padded by one pixel
// on every side, plus two floats of slack (the last row read of the last
// channel runs two past its plane). The border and the slack are zero; the
// inside is left as it was, for the caller to write in full. putFloats
// gives it back.
func getPadded(ch, h, w int) *[]float32 {
	p := getFloats(ch*(h+2)*(w+2) + 2)
	buf, pw, plane := *p, w+2, (h+2)*(w+2)
	for c := 0; c < ch; c++ {
		img := buf[c*plane : (c+1)*plane]
		clear(img[:pw])
		for r := 1; r <= h; r++ {
			img[r*pw], img[r*pw+pw-1] = 0, 0
		}
		clear(img[(h+1)*pw:])
	}
	clear(buf[ch*plane:])
	return p
}

// paddedRow is where row iy of channel ch starts inside a padded image.
func paddedRow(ch, iy, h, w int) int { return (ch*(h+2)+iy+1)*(w+2) + 1 }

// shifted reports whether x [N, In, h, w] goes through forwardShifted.
func (c *Conv2d) shifted(w int) bool {
	return c.K == 3 && c.Stride == 1 && c.PadT == 1 && c.PadL == 1 && c.PadB == 1 && c.PadR == 1 && w >= shiftedMinWidth
}

// shiftedProduct is forwardShifted on an image already padded.
func (c *Conv2d) shiftedProduct(out, padded []float32, wp *gemm.PackedB, h, w int) {
	pw := w + 2
	plane := (h + 2) * pw
	kk := c.In * 9
	colOff := make([]int, kk)
	for ch := 0; ch < c.In; ch++ {
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				colOff[(ch*3+ky)*3+kx] = ch*plane + ky*pw + kx
			}
		}
	}
	band := max(1, min(h, maxIm2colFloats/(c.Out*pw)))
	wideBuf := getFloats(band * pw * c.Out)
	defer putFloats(wideBuf)
	wide := *wideBuf
	for y0 := 0; y0 < h; y0 += band {
		rows := min(band, h-y0)
		n := rows * pw
		gemm.SgemmOffA(n, padded[y0*pw:], colOff, wp, wide, c.Out, Threads())
		transposeBias(out, wide, c.b, h*w, y0*w, rows, w, pw, c.Out)
	}
}

// transposeBias writes out[o, first + r*w + x] = wide[(r*pw + x)*outCh + o]
// + b[o] for rows r < rows and columns x < w: the pixels-first product
// back to channels first, without the grid's extra columns, bias added.
// Blocks of 16 pixels by 16 channels are transposed in registers
// (vmath.TransposeAddBias16), each channel's 16 pixels stored as one
// 64-byte line; writing a pixel's channels one value at a time instead
// touches a line in each of many planes whose stride is a multiple of
// 4 KiB, all in one cache set (measured 3 ns per value). What is left at
// the edges (w or outCh not a multiple of 16) goes one value at a time.
func transposeBias(out, wide, b []float32, pixels, first, rows, w, pw, outCh int) {
	const blk = 16
	parallelFor(rows, 1, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			dst := out[first+r*w:]
			src := wide[r*pw*outCh:]
			o0 := 0
			for ; o0+blk <= outCh; o0 += blk {
				x := 0
				for ; x+blk <= w; x += blk {
					vmath.TransposeAddBias16(dst[o0*pixels+x:], pixels, src[x*outCh+o0:], outCh, b[o0:])
				}
				for ; x < w; x++ {
					for i := o0; i < o0+blk; i++ {
						dst[i*pixels+x] = src[x*outCh+i] + b[i]
					}
				}
			}
			for i := o0; i < outCh; i++ {
				row := dst[i*pixels : i*pixels+w]
				for x := range row {
					row[x] = src[x*outCh+i] + b[i]
				}
			}
		}
	})
}

// shiftedMinWidth is the narrowest image forwardShifted is used for (a
// variable for tests).
var shiftedMinWidth = 32

// maxIm2colFloats caps the patch matrix at 64 MiB (a variable for tests).
var maxIm2colFloats = 16 << 20

// im2col lays out, for every (channel, ky, kx), the input pixel each output
// position of rows y0..y0+oh-1 reads (zero outside the image), as rows of
// length oh*ow, ld apart.
func (c *Conv2d) im2col(cols []float32, ld int, img []float32, h, w, y0, oh, ow int) {
	k, s := c.K, c.Stride
	parallelFor(c.In, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			plane := img[ch*h*w : (ch+1)*h*w]
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					row := cols[((ch*k+ky)*k+kx)*ld:][:oh*ow]
					for oy := 0; oy < oh; oy++ {
						iy := (y0+oy)*s + ky - c.PadT
						dst := row[oy*ow : (oy+1)*ow]
						if iy < 0 || iy >= h {
							clear(dst)
							continue
						}
						src := plane[iy*w : (iy+1)*w]
						x0, x1 := c.insideCols(kx, w, ow)
						clear(dst[:x0])
						clear(dst[x1:])
						if s == 1 {
							copy(dst[x0:x1], src[x0+kx-c.PadL:])
							continue
						}
						for ox := x0; ox < x1; ox++ {
							dst[ox] = src[ox*s+kx-c.PadL]
						}
					}
				}
			}
		}
	})
}

// packedPatchesPool recycles the packed patch matrices of packedPatches.
var packedPatchesPool = reuse.Pool[*pooledPacked]{New: func() *pooledPacked { return new(pooledPacked) }}

// packedPatches lays out the patch matrix of the whole batch x [N, In, h,
// w], [In*K*K, N*oh*ow] with the images side by side, straight in the
// packed layout of a product's right-hand operand, in the memory of dst
// when it is large enough: what im2col and then packing would give, in one
// pass and without a zeroed allocation. Each strip of columns is a few
// runs of output pixels along one image row; every (channel, ky, kx) row
// of a run is a copy from one input row, zero where it reads padding.
func (c *Conv2d) packedPatches(dst *gemm.PackedB, x *tensor.Tensor, oh, ow int) *gemm.PackedB {
	const sw = gemm.StripWidth
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	k, s, pixels := c.K, c.Stride, oh*ow
	cols := n * pixels
	pb := gemm.ReusePackedB(dst, c.In*k*k, cols)
	parallelFor(pb.Strips(), 1, func(q0, q1 int) {
		for q := q0; q < q1; q++ {
			strip := pb.Strip(q)
			end := min((q+1)*sw, cols)
			for j := q * sw; j < end; {
				i, oy, ox0 := j/pixels, j%pixels/ow, j%pixels%ow
				run := min(ow-ox0, end-j)
				lane := j - q*sw
				img := x.Data[i*c.In*h*w : (i+1)*c.In*h*w]
				for kx := 0; kx < k; kx++ {
					// The run's columns [a, b) read inside the row.
					x0, x1 := c.insideCols(kx, w, ow)
					a, b := min(run, max(0, x0-ox0)), min(run, max(0, x1-ox0))
					b = max(a, b)
					for ky := 0; ky < k; ky++ {
						iy := oy*s + ky - c.PadT
						for ch := 0; ch < c.In; ch++ {
							p := (ch*k+ky)*k + kx
							out := strip[p*sw+lane : p*sw+lane+run]
							if iy < 0 || iy >= h {
								clear(out)
								continue
							}
							src := img[(ch*h+iy)*w : (ch*h+iy+1)*w]
							clear(out[:a])
							clear(out[b:])
							if s == 1 {
								copy(out[a:b], src[ox0+a+kx-c.PadL:])
								continue
							}
							for t := a; t < b; t++ {
								out[t] = src[(ox0+t)*s+kx-c.PadL]
							}
						}
					}
				}
				j += run
			}
			if valid := end - q*sw; valid < sw {
				for p := 0; p < pb.K(); p++ {
					clear(strip[p*sw+valid : (p+1)*sw])
				}
			}
		}
	})
	return pb
}

// insideCols is the range [x0, x1) of output columns whose tap kx reads
// inside an input row of width w; the others read padding.
func (c *Conv2d) insideCols(kx, w, ow int) (x0, x1 int) {
	x0 = min(ow, max(0, ceilDiv(c.PadL-kx, c.Stride)))
	x1 = max(x0, min(ow, ceilDiv(w-kx+c.PadL, c.Stride)))
	return x0, x1
}

func addChannelBias(out, b []float32, pixels int) {
	parallelFor(len(b), 8, func(o0, o1 int) {
		for o := o0; o < o1; o++ {
			row := out[o*pixels : (o+1)*pixels]
			for j := range row {
				row[j] += b[o]
			}
		}
	})
}

// ceilDiv is ⌈a/b⌉ for b > 0 and any sign of a.
func ceilDiv(a, b int) int {
	if a <= 0 {
		return -(-a / b)
	}
	return (a + b - 1) / b
}
