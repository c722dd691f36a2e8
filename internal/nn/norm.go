package nn

import (
	"fmt"
	"math"

	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/vmath"
	"github.com/imggen/imggen/internal/weights"
)

// GroupNorm normalises each group of channels of each image over the group's
// channels and pixels, then applies a per-channel scale and shift.
type GroupNorm struct {
	Groups, Channels int
	Eps              float64
	gamma, beta      []float32
}

// LoadGroupNorm reads "weight" and "bias" [channels].
func LoadGroupNorm(l weights.Loader, groups, channels int, eps float64) *GroupNorm {
	return &GroupNorm{Groups: groups, Channels: channels, Eps: eps,
		gamma: l.Tensor("weight", channels).Data, beta: l.Tensor("bias", channels).Data}
}

// Forward normalises x [N, C, H, W]; with silu it also applies SiLU, saving
// a pass over memory.
func (g *GroupNorm) Forward(x *tensor.Tensor, silu bool) *tensor.Tensor {
	n, c := x.Shape[0], x.Shape[1]
	if c != g.Channels {
		panic(fmt.Sprintf("groupnorm: %d channels, want %d", c, g.Channels))
	}
	pixels := x.Numel() / (n * c)
	y := tensor.New(x.Shape...)
	g.eachChannel(x.Data, n, pixels, func(i, ch int, src []float32, scale, shift float32) {
		at := (i*c + ch) * pixels
		vmath.ScaleShift(y.Data[at:at+pixels], src, scale, shift, silu)
	})
	return y
}

// eachChannel computes each group's statistics over the images x (n of
// them, pixels per channel) and calls f with every channel's values and
// the scale and shift that normalise them, the work split by groups.
func (g *GroupNorm) eachChannel(x []float32, n, pixels int, f func(i, ch int, src []float32, scale, shift float32)) {
	per := g.Channels / g.Groups
	parallelFor(n*g.Groups, 1, func(lo, hi int) {
		for ng := lo; ng < hi; ng++ {
			src := x[ng*per*pixels : (ng+1)*per*pixels]
			mean, rstd := moments(src, g.Eps)
			for ci := 0; ci < per; ci++ {
				ch := (ng%g.Groups)*per + ci
				scale := float32(rstd) * g.gamma[ch]
				shift := g.beta[ch] - float32(mean)*scale
				f(ng/g.Groups, ch, src[ci*pixels:(ci+1)*pixels], scale, shift)
			}
		}
	})
}

// NormConv is conv.Forward(norm.Forward(x, true)), the GroupNorm, SiLU,
// convolution step of a residual block, the same bits. Where the
// convolution pads the image itself (3x3, forwardShifted), the normalised
// values are written straight into its padded image, which saves a tensor
// and two passes over it.
func NormConv(norm *GroupNorm, conv *Conv2d, x *tensor.Tensor) *tensor.Tensor {
	if !normConvFused(norm, conv, x) {
		return conv.Forward(norm.Forward(x, true))
	}
	y := tensor.New(x.Shape[0], conv.Out, x.Shape[2], x.Shape[3])
	normConvInto(y, norm, conv, x)
	return y
}

// NormConvScratch is NormConv with its result in pooled scratch, for a
// result that dies within its block (the first half of a residual block):
// a fresh tensor would first be zeroed, on one thread, only to be
// overwritten. release hands the memory back.
func NormConvScratch(norm *GroupNorm, conv *Conv2d, x *tensor.Tensor) (y *tensor.Tensor, release func()) {
	if !normConvFused(norm, conv, x) {
		return conv.Forward(norm.Forward(x, true)), func() {}
	}
	y, release = ScratchTensor(x.Shape[0], conv.Out, x.Shape[2], x.Shape[3])
	normConvInto(y, norm, conv, x)
	return y, release
}

// normConvFused reports whether NormConv writes the normalised image
// straight into the convolution's padded image.
func normConvFused(norm *GroupNorm, conv *Conv2d, x *tensor.Tensor) bool {
	c, w := x.Shape[1], x.Shape[3]
	return conv.shifted(w) && !conv.bf16Conv() && !conv.winograd(w) && len(conv.lowRank) == 0 && c == norm.Channels && c == conv.In
}

// normConvInto is the fused NormConv into y, every element of which it
// writes.
func normConvInto(y *tensor.Tensor, norm *GroupNorm, conv *Conv2d, x *tensor.Tensor) {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	wp := packedWeights(conv.w)
	defer wp.release()
	pp := getPadded(c, h, w)
	defer putFloats(pp)
	padded := *pp
	for i := 0; i < n; i++ {
		norm.forwardPadded(padded, x.Data[i*c*h*w:(i+1)*c*h*w], h, w)
		conv.shiftedProduct(y.Data[i*conv.Out*h*w:(i+1)*conv.Out*h*w], padded, wp.pb, h, w)
	}
}

// forwardPadded writes GroupNorm and SiLU of one image img (h x w) into
// the inside of a padded image (see getPadded), row by row; the border is
// left as it is.
func (g *GroupNorm) forwardPadded(padded, img []float32, h, w int) {
	g.eachChannel(img, 1, h*w, func(_, ch int, src []float32, scale, shift float32) {
		for iy := 0; iy < h; iy++ {
			at := paddedRow(ch, iy, h, w)
			vmath.ScaleShift(padded[at:at+w], src[iy*w:(iy+1)*w], scale, shift, true)
		}
	})
}

// moments returns the mean and 1/sqrt(var+eps) (biased variance), from
// float64 sums so the result does not depend on the length of the group.
func moments(v []float32, eps float64) (mean, rstd float64) {
	mean, variance := vmath.Moments(v)
	return mean, 1 / math.Sqrt(variance+eps)
}

// LayerNorm normalises over the last dimension.
type LayerNorm struct {
	Dim         int
	Eps         float64
	gamma, beta []float32
}

// LoadLayerNorm reads "weight" and "bias" [dim].
func LoadLayerNorm(l weights.Loader, dim int, eps float64) *LayerNorm {
	return &LayerNorm{Dim: dim, Eps: eps, gamma: l.Tensor("weight", dim).Data, beta: l.Tensor("bias", dim).Data}
}

// Forward normalises each row of x [..., Dim].
func (ln *LayerNorm) Forward(x *tensor.Tensor) *tensor.Tensor {
	y := tensor.New(x.Shape...)
	ln.forwardInto(y, x)
	return y
}

// ForwardScratch is Forward in pooled scratch, for an output that dies
// within its block (a transformer block's normed input): release hands
// it back.
func (ln *LayerNorm) ForwardScratch(x *tensor.Tensor) (y *tensor.Tensor, release func()) {
	y, release = ScratchTensor(x.Shape...)
	ln.forwardInto(y, x)
	return y, release
}

// forwardInto writes the normalised rows of x to y, overwriting it.
func (ln *LayerNorm) forwardInto(y, x *tensor.Tensor) {
	rows := x.Numel() / ln.Dim
	parallelFor(rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in := x.Data[r*ln.Dim : (r+1)*ln.Dim]
			out := y.Data[r*ln.Dim : (r+1)*ln.Dim]
			mean, rstd := moments(in, ln.Eps)
			m, s := float32(mean), float32(rstd)
			for j, v := range in {
				out[j] = (v-m)*s*ln.gamma[j] + ln.beta[j]
			}
		}
	})
}
