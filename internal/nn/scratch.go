package nn

import (
	"math/bits"
	"sync"
)

// Pooled scratch, handed out with any content: a fresh allocation is
// zeroed by the runtime on one thread, and these buffers are written in
// full before they are read.
//
// Buffers are pooled by size class, four per power of two, so that a
// request gets a buffer at most a quarter larger than it asked for, and
// layers of many sizes do not keep trading small buffers for large ones.
var wordBufs, floatBufs [64 * 4]sync.Pool

// sizeClass is the pool index and capacity of a request for n elements.
func sizeClass(n int) (class, capacity int) {
	if n <= 8 {
		return 0, 8
	}
	shift := bits.Len(uint(n-1)) - 3
	top := (n-1)>>shift + 1 // 5..8
	return shift*4 + top - 5, top << shift
}

func getWords(n int) *[]uint32 {
	class, size := sizeClass(n)
	p, _ := wordBufs[class].Get().(*[]uint32)
	if p == nil {
		p = new([]uint32)
		*p = make([]uint32, size)
	}
	*p = (*p)[:n]
	return p
}

func putWords(p *[]uint32) {
	if class, size := sizeClass(cap(*p)); size == cap(*p) {
		wordBufs[class].Put(p)
	}
}

func getFloats(n int) *[]float32 {
	class, size := sizeClass(n)
	p, _ := floatBufs[class].Get().(*[]float32)
	if p == nil {
		p = new([]float32)
		*p = make([]float32, size)
	}
	*p = (*p)[:n]
	return p
}

func putFloats(p *[]float32) {
	if class, size := sizeClass(cap(*p)); size == cap(*p) {
		floatBufs[class].Put(p)
	}
}
