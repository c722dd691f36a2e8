package nn

import (
	"fmt"

	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// LowRank is a LoRA update of a layer W: the layer's output gains
// Scale·Up(Down(x)), with Down of rank r (a linear map, or for a
// convolution a convolution with the layer's kernel, stride and padding)
// and Up back to the layer's width (a linear map or a 1x1 convolution).
// This is peft's unfused LoRA layer: W is never copied or changed, so
// switching LoRAs costs only their own size.
type LowRank struct {
	down, up interface {
		Forward(*tensor.Tensor) *tensor.Tensor
	}
	scale float32
}

// Adaptable is a layer that takes LoRA updates: *Linear and *Conv2d.
type Adaptable interface {
	// NewLowRank checks down and up against the layer and builds the
	// update; downShape is [r, in] or [r, in, k, k], upShape [out, r] or
	// [out, r, 1, 1].
	NewLowRank(down []float32, downShape []int, up []float32, upShape []int, scale float32) (LowRank, error)
	// SetLowRank replaces the layer's updates (nil: none). It must not be
	// called while the layer runs.
	SetLowRank([]LowRank)
}

// NewLowRank implements Adaptable.
func (lin *Linear) NewLowRank(down []float32, downShape []int, up []float32, upShape []int, scale float32) (LowRank, error) {
	r, err := rank(downShape, upShape, lin.In, lin.Out, 1)
	if err != nil {
		return LowRank{}, err
	}
	return LowRank{
		down:  &Linear{In: lin.In, Out: r, w: weights.Matrix{Rows: r, Cols: lin.In, F32: down}},
		up:    &Linear{In: r, Out: lin.Out, w: weights.Matrix{Rows: lin.Out, Cols: r, F32: up}},
		scale: scale,
	}, nil
}

// NewLowRank implements Adaptable: LoCon's down is a convolution like the
// layer's, its up a 1x1 convolution.
func (c *Conv2d) NewLowRank(down []float32, downShape []int, up []float32, upShape []int, scale float32) (LowRank, error) {
	r, err := rank(downShape, upShape, c.In, c.Out, c.K)
	if err != nil {
		return LowRank{}, err
	}
	d := &Conv2d{In: c.In, Out: r, K: c.K, Stride: c.Stride, PadT: c.PadT, PadL: c.PadL, PadB: c.PadB, PadR: c.PadR,
		w: weights.Matrix{Rows: r, Cols: c.In * c.K * c.K, F32: down}, b: make([]float32, r)}
	u := &Conv2d{In: r, Out: c.Out, K: 1, Stride: 1, w: weights.Matrix{Rows: c.Out, Cols: r, F32: up}, b: make([]float32, c.Out)}
	return LowRank{down: d, up: u, scale: scale}, nil
}

// SetLowRank implements Adaptable.
func (lin *Linear) SetLowRank(u []LowRank) { lin.lowRank = u }

// SetLowRank implements Adaptable.
func (c *Conv2d) SetLowRank(u []LowRank) { c.lowRank = u }

// rank checks a LoRA pair's shapes against a layer of in -> out with a
// k x k kernel (1 for a linear layer, which also takes 1x1 shapes) and
// returns the rank.
func rank(downShape, upShape []int, in, out, k int) (int, error) {
	flat := func(s []int) ([]int, bool) {
		switch {
		case len(s) == 2:
			return []int{s[0], s[1], 1, 1}, true
		case len(s) == 4:
			return s, true
		}
		return nil, false
	}
	d, ok1 := flat(downShape)
	u, ok2 := flat(upShape)
	if !ok1 || !ok2 || d[0] < 1 || d[1] != in || d[2] != k || d[3] != k || u[0] != out || u[1] != d[0] || u[2] != 1 || u[3] != 1 {
		return 0, fmt.Errorf("lora shapes down %v, up %v do not fit a layer of %d -> %d with a %dx%d kernel", downShape, upShape, in, out, k, k)
	}
	return d[0], nil
}

// addLowRank adds each update's Scale·Up(Down(x)) to y, as peft adds
// lora_B(lora_A(x)) * scaling to the base layer's output.
func addLowRank(y, x *tensor.Tensor, updates []LowRank) {
	for _, u := range updates {
		v := u.up.Forward(u.down.Forward(x))
		s := u.scale
		parallelFor(len(y.Data), 1<<15, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y.Data[i] += float32(v.Data[i] * s) // rounded before the add, as torch
			}
		})
	}
}
