package nn

import "sync"

// Pooled scratch of the bfloat16 and Winograd layers, handed out with
// any content.
var wordBufs, floatBufs sync.Pool

func getWords(n int) *[]uint32 {
	p, _ := wordBufs.Get().(*[]uint32)
	if p == nil {
		p = new([]uint32)
	}
	if cap(*p) < n {
		*p = make([]uint32, n)
	}
	*p = (*p)[:n]
	return p
}

func putWords(p *[]uint32) { wordBufs.Put(p) }

func getFloats(n int) *[]float32 {
	p, _ := floatBufs.Get().(*[]float32)
	if p == nil {
		p = new([]float32)
	}
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

func putFloats(p *[]float32) { floatBufs.Put(p) }
