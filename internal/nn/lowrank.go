package nn

import (
	"fmt"
	"sync"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/vmath"
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
	downW, upW []float32 // [r, in·k·k] and [out, r], for merging
	rank       int
	scale      float32
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
	// SetMerged is the other way to apply updates: the layer runs on a
	// float32 copy of its weights with the updates added, W + Σ
	// scale·up·down (nil: W again). It must not be called while the
	// layer runs.
	SetMerged([]LowRank)
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
		downW: down, upW: up, rank: r, scale: scale,
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
	return LowRank{down: d, up: u, downW: down, upW: up, rank: r, scale: scale}, nil
}

// SetLowRank implements Adaptable.
func (lin *Linear) SetLowRank(u []LowRank) { lin.lowRank = u }

// SetLowRank implements Adaptable.
func (c *Conv2d) SetLowRank(u []LowRank) { c.lowRank = u }

// SetMerged implements Adaptable.
func (lin *Linear) SetMerged(u []LowRank) { setMerged(&lin.w, &lin.own, u) }

// SetMerged implements Adaptable.
func (c *Conv2d) SetMerged(u []LowRank) { setMerged(&c.w, &c.own, u) }

// setMerged points *w at a merged copy of the layer's own weights (kept in
// *own while a copy is in use), or back at them.
func setMerged(w, own *weights.Matrix, updates []LowRank) {
	if own.Rows == 0 {
		*own = *w
	}
	if len(updates) == 0 {
		*w, *own = *own, weights.Matrix{}
		return
	}
	base := *own
	n := base.Rows * base.Cols
	merged := make([]float32, n)
	if base.F16 != nil {
		vmath.WidenF16(merged, base.F16)
	} else {
		copy(merged, base.F32)
	}
	delta := make([]float32, n)
	for _, u := range updates {
		gemm.Sgemm(base.Rows, base.Cols, u.rank, u.upW, u.rank, u.downW, base.Cols, delta, base.Cols, Threads())
		for i, d := range delta {
			merged[i] += float32(d * u.scale) // rounded before the add, as torch
		}
	}
	// float32 even over float16 weights: the sum is what peft's fuse_lora
	// computes (rounding it to float16 moved 1.4% of the tiny SDXL's
	// pixels by a level).
	out := weights.Matrix{Rows: base.Rows, Cols: base.Cols, F32: merged}
	*w = out
}

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
// lora_B(lora_A(x)) * scaling to the base layer's output. A linear Up
// writes into a pooled buffer (it is as large as y).
func addLowRank(y, x *tensor.Tensor, updates []LowRank) {
	for _, u := range updates {
		d := u.down.Forward(x)
		var v []float32
		if up, ok := u.up.(*Linear); ok {
			buf := getScratch(len(y.Data))
			defer scratch.Put(buf)
			v = (*buf)[:len(y.Data)]
			up.forwardInto(v, d, d.Numel()/up.In)
		} else {
			v = u.up.Forward(d).Data
		}
		s := u.scale
		parallelFor(len(y.Data), 1<<15, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				y.Data[i] += float32(v[i] * s) // rounded before the add, as torch
			}
		})
	}
}

// scratch recycles the up products of addLowRank.
var scratch sync.Pool

func getScratch(n int) *[]float32 {
	buf, _ := scratch.Get().(*[]float32)
	if buf == nil || cap(*buf) < n {
		b := make([]float32, n)
		buf = &b
	}
	return buf
}
