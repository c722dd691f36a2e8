package nn

import (
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/vmath"
)

// elementwise applies an in-place vector function over v, split across
// threads for large slices (each element's result is independent of the
// split).
func elementwise(v []float32, f func([]float32)) {
	parallelFor(len(v), 1<<15, func(lo, hi int) { f(v[lo:hi]) })
}

// SiLU applies x·sigmoid(x) in place.
func SiLU(v []float32) { elementwise(v, vmath.SiLU) }

// GELU applies the exact (erf) GELU in place.
func GELU(v []float32) { elementwise(v, vmath.GELU) }

// QuickGELU applies CLIP's x·sigmoid(1.702x) in place.
func QuickGELU(v []float32) { elementwise(v, vmath.QuickGELU) }

// GEGLU splits each row of x [..., 2·inner] into a value half and a gate
// half and returns value · gelu(gate) [..., inner] (the feed-forward of a
// Stable Diffusion transformer block).
func GEGLU(x *tensor.Tensor, inner int) *tensor.Tensor {
	rows := x.Numel() / (2 * inner)
	shape := append(append([]int(nil), x.Shape[:len(x.Shape)-1]...), inner)
	y := tensor.New(shape...)
	parallelFor(rows, 16, func(lo, hi int) {
		vmath.GEGLU(y.Data[lo*inner:hi*inner], x.Data[lo*2*inner:hi*2*inner], inner)
	})
	return y
}

// ForwardScratch is lin.Forward(x), the same bits, in pooled scratch
// rather than a tensor of its own, for an output that dies within its
// block: release hands the memory back. A fresh tensor would first be
// zeroed, on one thread, only to be overwritten.
func (lin *Linear) ForwardScratch(x *tensor.Tensor) (y *tensor.Tensor, release func()) {
	rows := x.Numel() / lin.In
	y, release = ScratchTensor(lin.outShape(x)...)
	lin.forwardInto(y.Data, x, rows)
	addLowRank(y, x, lin.lowRank)
	return y, release
}

// ForwardAdd adds the layer's output for x into acc, the bits of
// AddInPlace(acc, lin.Forward(x)): a residual branch's last projection.
func (lin *Linear) ForwardAdd(acc, x *tensor.Tensor) {
	y, release := lin.ForwardScratch(x)
	defer release()
	AddInPlace(acc, y)
}

// ForwardGEGLU is GEGLU(lin.Forward(x), inner), the same bits, in pooled
// scratch (release hands it back). The projection, the widest activation
// of a transformer block, lives in scratch too, and its bias is added as
// GEGLU reads it rather than in a pass of its own (with a LoRA side path,
// which comes after the bias, in the usual order).
func (lin *Linear) ForwardGEGLU(x *tensor.Tensor, inner int) (y *tensor.Tensor, release func()) {
	var h *tensor.Tensor
	var releaseH func()
	var bias []float32
	if len(lin.lowRank) > 0 {
		h, releaseH = lin.ForwardScratch(x)
	} else {
		h, releaseH = ScratchTensor(lin.outShape(x)...)
		lin.product(h.Data, x, x.Numel()/lin.In)
		bias = lin.b
	}
	defer releaseH()
	rows := h.Numel() / (2 * inner)
	shape := append(append([]int(nil), h.Shape[:len(h.Shape)-1]...), inner)
	y, release = ScratchTensor(shape...)
	parallelFor(rows, 16, func(lo, hi int) {
		vmath.GEGLUBias(y.Data[lo*inner:hi*inner], h.Data[lo*2*inner:hi*2*inner], bias, inner)
	})
	return y, release
}

// FeedForwardAdd adds a transformer block's GEGLU feed-forward into acc:
// acc += out(GEGLU(in(x), inner)), the bits of
// out.ForwardAdd(acc, in.ForwardGEGLU(x, inner)). Each row of the
// projection is overwritten in place by its GEGLU values (its value
// half), which out reads with the projection's row stride, and out's
// bias and the residual are added in one pass: the projection, the
// block's widest activation, is its only buffer. In bfloat16 or with a
// LoRA side path the two layers run as they are.
func FeedForwardAdd(acc, x *tensor.Tensor, in, out *Linear, inner int) {
	if bf16() || len(in.lowRank) > 0 || len(out.lowRank) > 0 {
		g, release := in.ForwardGEGLU(x, inner)
		defer release()
		out.ForwardAdd(acc, g)
		return
	}
	rows := x.Numel() / in.In
	h, releaseH := ScratchTensor(in.outShape(x)...)
	defer releaseH()
	in.product(h.Data, x, rows)
	parallelFor(rows, 16, func(lo, hi int) {
		vmath.GEGLUInPlace(h.Data[lo*2*inner:hi*2*inner], in.b, inner)
	})
	y, releaseY := ScratchTensor(rows, out.Out)
	defer releaseY()
	out.productRows(y.Data, h.Data, 2*inner, rows)
	parallelFor(rows, 64, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			dst, src := acc.Data[r*out.Out:(r+1)*out.Out], y.Data[r*out.Out:(r+1)*out.Out]
			if out.b == nil {
				for j, v := range src {
					dst[j] += v
				}
				continue
			}
			for j, v := range src {
				dst[j] += v + out.b[j]
			}
		}
	})
}

// ScratchTensor returns a tensor of the shape in pooled scratch, with any
// content, for a caller that fills it in full before reading it, and the
// function that hands it back.
func ScratchTensor(shape ...int) (*tensor.Tensor, func()) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	buf := getFloats(n)
	return tensor.From(*buf, shape...), func() { putFloats(buf) }
}

// Add returns a + b (same shapes).
func Add(a, b *tensor.Tensor) *tensor.Tensor {
	y := tensor.New(a.Shape...)
	parallelFor(len(y.Data), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y.Data[i] = a.Data[i] + b.Data[i]
		}
	})
	return y
}

// AddInPlace adds b into a.
func AddInPlace(a, b *tensor.Tensor) {
	parallelFor(len(b.Data), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			a.Data[i] += b.Data[i]
		}
	})
}

// ConcatChannels joins [N, Ca, H, W] and [N, Cb, H, W] along channels.
func ConcatChannels(a, b *tensor.Tensor) *tensor.Tensor {
	n, ca, cb := a.Shape[0], a.Shape[1], b.Shape[1]
	px := a.Numel() / (n * ca)
	y := tensor.New(n, ca+cb, a.Shape[2], a.Shape[3])
	// One job per output channel plane, so both threads copy.
	parallelFor(n*(ca+cb), 8, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			i, ch := p/(ca+cb), p%(ca+cb)
			var src []float32
			if ch < ca {
				src = a.Data[(i*ca+ch)*px:]
			} else {
				src = b.Data[(i*cb+ch-ca)*px:]
			}
			copy(y.Data[p*px:(p+1)*px], src[:px])
		}
	})
	return y
}

// UpsampleNearest resizes x [N, C, H, W] to oh x ow, picking source index
// floor(dst · in/out) with the scale in float32, as torch does.
func UpsampleNearest(x *tensor.Tensor, oh, ow int) *tensor.Tensor {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	y := tensor.New(n, c, oh, ow)
	up := newUpsampler(h, w, oh, ow)
	parallelFor(n*c, 4, func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			up.plane(x.Data[p*h*w:(p+1)*h*w], func(i int) []float32 { return y.Data[(p*oh+i)*ow:][:ow] })
		}
	})
	return y
}

// UpsampleConv is conv.Forward(UpsampleNearest(x, oh, ow)), the same bits.
// Where the convolution pads the image itself (3x3, forwardShifted), the
// resized image is written straight into its padded image, which saves
// the largest tensor of the step and two passes over it.
func UpsampleConv(conv *Conv2d, x *tensor.Tensor, oh, ow int) *tensor.Tensor {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if !conv.shifted(ow) || conv.bf16Conv() || conv.winograd(ow) || len(conv.lowRank) > 0 || c != conv.In {
		return conv.Forward(UpsampleNearest(x, oh, ow))
	}
	y := tensor.New(n, conv.Out, oh, ow)
	wp := packedWeights(conv.w)
	defer wp.release()
	pp := getPadded(c, oh, ow)
	defer putFloats(pp)
	padded := *pp
	up := newUpsampler(h, w, oh, ow)
	for i := 0; i < n; i++ {
		parallelFor(c, 4, func(c0, c1 int) {
			for ch := c0; ch < c1; ch++ {
				up.plane(x.Data[(i*c+ch)*h*w:(i*c+ch+1)*h*w], func(r int) []float32 {
					return padded[paddedRow(ch, r, oh, ow):][:ow]
				})
			}
		})
		conv.shiftedProduct(y.Data[i*conv.Out*oh*ow:(i+1)*conv.Out*oh*ow], padded, wp.pb, oh, ow)
	}
	return y
}

// upsampler maps the rows and columns of an oh x ow image to those of its
// h x w source.
type upsampler struct {
	h, w, oh int
	sy       float32
	srcX     []int
}

func newUpsampler(h, w, oh, ow int) *upsampler {
	u := &upsampler{h: h, w: w, oh: oh, sy: float32(h) / float32(oh), srcX: make([]int, ow)}
	sx := float32(w) / float32(ow)
	for j := range u.srcX {
		u.srcX[j] = min(int(float32(j)*sx), w-1)
	}
	return u
}

// plane writes the resized plane in, row i to dst(i).
func (u *upsampler) plane(in []float32, dst func(i int) []float32) {
	for i := 0; i < u.oh; i++ {
		row := in[min(int(float32(i)*u.sy), u.h-1)*u.w:]
		out := dst(i)
		for j, sj := range u.srcX {
			out[j] = row[sj]
		}
	}
}

// ToTokens turns [N, C, H, W] into [N, H·W, C] for the transformer layers.
func ToTokens(x *tensor.Tensor) *tensor.Tensor {
	n, c := x.Shape[0], x.Shape[1]
	px := x.Numel() / (n * c)
	y := tensor.New(n, px, c)
	for i := 0; i < n; i++ {
		transposeParallel(y.Data[i*px*c:(i+1)*px*c], x.Data[i*c*px:(i+1)*c*px], c, px)
	}
	return y
}

// FromTokens turns [N, H·W, C] back into [N, C, H, W].
func FromTokens(x *tensor.Tensor, h, w int) *tensor.Tensor {
	n, px, c := x.Shape[0], x.Shape[1], x.Shape[2]
	y := tensor.New(n, c, h, w)
	for i := 0; i < n; i++ {
		transposeParallel(y.Data[i*px*c:(i+1)*px*c], x.Data[i*px*c:(i+1)*px*c], px, c)
	}
	return y
}

// transposeParallel is Transpose with the destination rows split across
// threads, in tiles that keep both sides in cache.
func transposeParallel(dst, a []float32, rows, cols int) {
	const tile = 32
	parallelFor(cols, tile, func(j0, j1 int) {
		for i0 := 0; i0 < rows; i0 += tile {
			for j := j0; j < j1; j++ {
				d := dst[j*rows : (j+1)*rows]
				for i := i0; i < min(i0+tile, rows); i++ {
					d[i] = a[i*cols+j]
				}
			}
		}
	})
}

// AddPerChannel adds v[i, c] to every pixel of channel c of image i of
// x [N, C, H, W] (how a ResNet block adds the time embedding).
func AddPerChannel(x, v *tensor.Tensor) {
	n, c := x.Shape[0], x.Shape[1]
	px := x.Numel() / (n * c)
	parallelFor(n*c, 8, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			add := v.Data[p]
			row := x.Data[p*px : (p+1)*px]
			for j := range row {
				row[j] += add
			}
		}
	})
}
