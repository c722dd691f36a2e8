package reuse

import (
	"runtime"
	"testing"
)

func TestPool(t *testing.T) {
	made := 0
	p := Pool[*[]float32]{New: func() *[]float32 { made++; return new([]float32) }}
	a := p.Get()
	if made != 1 {
		t.Fatalf("Get on an empty pool made %d items", made)
	}
	p.Put(a)
	runtime.GC() // a sync.Pool would lose a here
	runtime.GC()
	if b := p.Get(); b != a || made != 1 {
		t.Fatalf("Get after Put and two collections: %p (made %d), want %p", b, made, a)
	}
	p.Put(a)
	p.Drain()
	if b := p.Get(); b == a || made != 2 {
		t.Fatalf("Get after Drain returned the drained item (made %d)", made)
	}
	var z Pool[*int] // no New: the zero value
	if z.Get() != nil {
		t.Fatal("Get without New on an empty pool is not nil")
	}
}
