package nn

import (
	"fmt"

	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// Linear is y = x·Wᵀ + b over the last dimension.
type Linear struct {
	In, Out int
	wt      []float32 // Wᵀ, [In, Out], so the product streams rows of it
	b       []float32 // nil without bias
}

// LoadLinear reads "weight" [out, in] and, if bias, "bias" [out].
func LoadLinear(l weights.Loader, in, out int, bias bool) *Linear {
	w := l.Tensor("weight", out, in)
	lin := &Linear{In: in, Out: out, wt: make([]float32, in*out)}
	Transpose(lin.wt, w.Data, out, in)
	if bias {
		lin.b = l.Tensor("bias", out).Data
	}
	return lin
}

// Forward maps x [..., In] to [..., Out].
func (lin *Linear) Forward(x *tensor.Tensor) *tensor.Tensor {
	rows := x.Numel() / lin.In
	shape := append(append([]int(nil), x.Shape[:len(x.Shape)-1]...), lin.Out)
	y := tensor.New(shape...)
	MatMul(y.Data, x.Data, lin.wt, rows, lin.Out, lin.In)
	if lin.b != nil {
		for r := 0; r < rows; r++ {
			row := y.Data[r*lin.Out : (r+1)*lin.Out]
			for j, v := range lin.b {
				row[j] += v
			}
		}
	}
	return y
}

// Conv2d is a 2-D convolution computed as a matrix product over im2col
// patches. Padding is given per side because the VAE encoder pads
// asymmetrically.
type Conv2d struct {
	In, Out, K, Stride     int
	PadT, PadL, PadB, PadR int
	w                      []float32 // [Out, In*K*K]
	b                      []float32
}

// LoadConv2d reads "weight" [out, in, k, k] and "bias" [out]; padding is
// the same on all sides.
func LoadConv2d(l weights.Loader, in, out, k, stride, pad int) *Conv2d {
	w := l.Tensor("weight", out, in, k, k)
	b := l.Tensor("bias", out)
	return &Conv2d{In: in, Out: out, K: k, Stride: stride, PadT: pad, PadL: pad, PadB: pad, PadR: pad, w: w.Data, b: b.Data}
}

// OutSize returns the output height and width for an input of h x w.
func (c *Conv2d) OutSize(h, w int) (int, int) {
	return (h+c.PadT+c.PadB-c.K)/c.Stride + 1, (w+c.PadL+c.PadR-c.K)/c.Stride + 1
}

// Forward convolves x [N, In, H, W].
func (c *Conv2d) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, ch, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if ch != c.In {
		panic(fmt.Sprintf("conv2d: %d input channels, want %d", ch, c.In))
	}
	oh, ow := c.OutSize(h, w)
	y := tensor.New(n, c.Out, oh, ow)
	kk := c.In * c.K * c.K
	pixels := oh * ow
	direct := c.K == 1 && c.Stride == 1 && c.PadT+c.PadL+c.PadB+c.PadR == 0
	var cols []float32
	if !direct {
		cols = make([]float32, kk*pixels)
	}
	for i := 0; i < n; i++ {
		img := x.Data[i*ch*h*w : (i+1)*ch*h*w]
		src := img
		if !direct {
			c.im2col(cols, img, h, w, oh, ow)
			src = cols
		}
		out := y.Data[i*c.Out*pixels : (i+1)*c.Out*pixels]
		MatMul(out, c.w, src, c.Out, pixels, kk)
		addChannelBias(out, c.b, pixels)
	}
	return y
}

// im2col lays out, for every (channel, ky, kx), the input pixel each output
// position reads (zero outside the image), as rows of length oh*ow.
func (c *Conv2d) im2col(cols, img []float32, h, w, oh, ow int) {
	k, s := c.K, c.Stride
	parallelFor(c.In, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			plane := img[ch*h*w : (ch+1)*h*w]
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					row := cols[((ch*k+ky)*k+kx)*oh*ow:][:oh*ow]
					for oy := 0; oy < oh; oy++ {
						iy := oy*s + ky - c.PadT
						dst := row[oy*ow : (oy+1)*ow]
						if iy < 0 || iy >= h {
							clear(dst)
							continue
						}
						src := plane[iy*w : (iy+1)*w]
						for ox := range dst {
							ix := ox*s + kx - c.PadL
							if ix < 0 || ix >= w {
								dst[ox] = 0
							} else {
								dst[ox] = src[ix]
							}
						}
					}
				}
			}
		}
	})
}

func addChannelBias(out, b []float32, pixels int) {
	for o, v := range b {
		row := out[o*pixels : (o+1)*pixels]
		for j := range row {
			row[j] += v
		}
	}
}
