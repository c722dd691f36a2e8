// Package reuse keeps large buffers for reuse across garbage collections.
//
// A sync.Pool empties itself over two collections, and this program
// collects every half second or so while it denoises (its heap is
// activations, and the weights lie outside it). Each buffer lost that way
// is allocated again, and the runtime zeroes a fresh large allocation on
// the one thread that asked for it while the others wait: 3-4% of a
// 512 px run's CPU time, on its serial path.
package reuse

import "sync"

// Pool is a free list. It holds at most as many items as were ever out
// at once, so it never holds more than the peak it served.
type Pool[T any] struct {
	// New makes an item when the list is empty; nil gives the zero T.
	New func() T

	mu   sync.Mutex
	free []T
}

// Get takes an item from the list, or makes one.
func (p *Pool[T]) Get() T {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		x := p.free[n-1]
		var zero T
		p.free[n-1] = zero
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return x
	}
	p.mu.Unlock()
	if p.New != nil {
		return p.New()
	}
	var zero T
	return zero
}

// Put returns an item to the list.
func (p *Pool[T]) Put(x T) {
	p.mu.Lock()
	p.free = append(p.free, x)
	p.mu.Unlock()
}

// Drain empties the list, leaving its items to the collector.
func (p *Pool[T]) Drain() {
	p.mu.Lock()
	p.free = nil
	p.mu.Unlock()
}
