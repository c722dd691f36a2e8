package nn

import (
	"math/bits"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/reuse"
)

// Pooled scratch, handed out with any content: a fresh allocation is
// zeroed by the runtime on one thread, and these buffers are written in
// full before they are read.
//
// Buffers are pooled by size class, four per power of two, so that a
// request gets a buffer at most a quarter larger than it asked for, and
// layers of many sizes do not keep trading small buffers for large ones.
type pools [64 * 4]reuse.Pool[any]

var wordBufs, floatBufs pools

// sizeClass is the pool index and capacity of a request for n elements.
func sizeClass(n int) (class, capacity int) {
	if n <= 8 {
		return 0, 8
	}
	shift := bits.Len(uint(n-1)) - 3
	top := (n-1)>>shift + 1 // 5..8
	return shift*4 + top - 5, top << shift
}

func getBuf[T uint32 | float32](pp *pools, n int) *[]T {
	class, size := sizeClass(n)
	p, _ := pp[class].Get().(*[]T)
	if p == nil {
		p = new([]T)
		*p = make([]T, size)
	}
	*p = (*p)[:n]
	return p
}

func putBuf[T uint32 | float32](pp *pools, p *[]T) {
	if class, size := sizeClass(cap(*p)); size == cap(*p) {
		pp[class].Put(p)
	}
}

func getWords(n int) *[]uint32   { return getBuf[uint32](&wordBufs, n) }
func putWords(p *[]uint32)       { putBuf(&wordBufs, p) }
func getFloats(n int) *[]float32 { return getBuf[float32](&floatBufs, n) }
func putFloats(p *[]float32)     { putBuf(&floatBufs, p) }

// DropScratch empties the pools of scratch buffers and packed operands
// (here and in gemm) for the collector to reclaim. The pools outlive
// collections, so that a U-Net call reuses its buffers; call this where
// the sizes in use change for good (before the decoder, and between its
// levels, each four times the size of the last) so that buffers nobody
// will ask for again do not sit beside the new ones.
func DropScratch() {
	for i := range floatBufs {
		floatBufs[i].Drain()
		wordBufs[i].Drain()
	}
	packedPool.Drain()
	packedPatchesPool.Drain()
	gemm.DropScratch()
}
