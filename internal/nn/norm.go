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
	per := c / g.Groups
	y := tensor.New(x.Shape...)
	parallelFor(n*g.Groups, 1, func(lo, hi int) {
		for ng := lo; ng < hi; ng++ {
			off := ng * per * pixels
			src := x.Data[off : off+per*pixels]
			mean, rstd := moments(src, g.Eps)
			for ci := 0; ci < per; ci++ {
				ch := (ng%g.Groups)*per + ci
				scale := float32(rstd) * g.gamma[ch]
				shift := g.beta[ch] - float32(mean)*scale
				vmath.ScaleShift(y.Data[off+ci*pixels:off+(ci+1)*pixels], src[ci*pixels:(ci+1)*pixels], scale, shift, silu)
			}
		}
	})
	return y
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
	return y
}
