package nn

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Precision is the arithmetic of the convolutions and linear layers.
type Precision int32

const (
	// Float32 is the default: float32 operands, float32 multiply-adds.
	Float32 Precision = iota
	// BFloat16 rounds both operands of the stride-1 1x1 and 3x3
	// convolutions and of the linear layers to bfloat16 and sums their
	// products in float32 (gemm.SgemmBF16, bf16.go): where the CPU has
	// AVX-512 BF16 those layers run 1.3-2.6x faster (Zen 5), at about
	// three significant digits per operand. Attention's products,
	// normalisations and the rest stay float32.
	BFloat16
	// FP32Winograd is Float32 with the larger 3x3, stride-1 convolutions
	// (Conv2d.winograd) computed by Winograd's F(2x2, 3x3) (winograd.go):
	// 2.25x fewer multiply-adds, results that differ from the direct
	// convolution's in the last bits.
	FP32Winograd
)

func (p Precision) String() string {
	switch p {
	case BFloat16:
		return "bf16"
	case FP32Winograd:
		return "fp32-winograd"
	}
	return "fp32"
}

// ParsePrecision reads "fp32", "bf16" or "fp32-winograd" (the names
// String gives; "float32" and "bfloat16" too).
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "fp32", "float32":
		return Float32, nil
	case "bf16", "bfloat16":
		return BFloat16, nil
	case "fp32-winograd":
		return FP32Winograd, nil
	}
	return Float32, fmt.Errorf("unknown precision %q (want fp32, bf16 or fp32-winograd)", s)
}

var precision atomic.Int32

// SetPrecision sets the arithmetic of the layers that follow it, process
// wide like SetThreads; not while networks run (UsePrecision is the safe
// way for work that may run concurrently).
func SetPrecision(p Precision) { precision.Store(int32(p)) }

// The precision gate: the precision is process wide, so work at one
// precision runs alongside other work at the same precision only.
var gate struct {
	sync.Mutex
	cond    *sync.Cond
	holders int
}

// UsePrecision sets precision p for the caller's networks until release
// is called. Callers asking for the same precision run together; one
// asking for another waits until they are all done, so that concurrent
// work (pipeline.Generate calls) each gets the bits it would get alone.
// Without holders the precision goes back to Float32.
func UsePrecision(p Precision) (release func()) {
	gate.Lock()
	if gate.cond == nil {
		gate.cond = sync.NewCond(&gate.Mutex)
	}
	for gate.holders > 0 && CurrentPrecision() != p {
		gate.cond.Wait()
	}
	SetPrecision(p)
	gate.holders++
	gate.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			gate.Lock()
			defer gate.Unlock()
			if gate.holders--; gate.holders == 0 {
				SetPrecision(Float32)
				gate.cond.Broadcast()
			}
		})
	}
}

// CurrentPrecision reports the precision set.
func CurrentPrecision() Precision { return Precision(precision.Load()) }
