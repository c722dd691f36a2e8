package team

import (
	"sync"
	"sync/atomic"
	"testing"
)

// runAll checks that Run(n) calls every part exactly once and returns only
// after all have returned.
func runAll(t *testing.T, n int, inner func()) {
	calls := make([]atomic.Int32, n)
	finished := make([]bool, n) // written by the parts, read after Run
	Run(n, func(i int) {
		calls[i].Add(1)
		if inner != nil {
			inner()
		}
		finished[i] = true
	})
	for i := range calls {
		if c := calls[i].Load(); c != 1 || !finished[i] {
			t.Fatalf("Run(%d): part %d called %d times, finished %v", n, i, c, finished[i])
		}
	}
}

func TestRunCallsEveryPartOnce(t *testing.T) {
	for n := 0; n <= 9; n++ {
		runAll(t, n, nil)
	}
}

// TestRunConcurrentNestedParked runs loops from many goroutines at once,
// some with loops inside their parts, with members spinning and with
// members parking after every part (the wake path); the race detector
// checks the hand-offs.
func TestRunConcurrentNestedParked(t *testing.T) {
	defer spinFor.Store(spinFor.Load())
	for _, spin := range []int64{spinFor.Load(), 0} {
		spinFor.Store(spin)
		var wg sync.WaitGroup
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for k := 0; k < 3000; k++ {
					var inner func()
					if (g+k)%3 == 0 {
						inner = func() { runAll(t, 2, nil) }
					}
					runAll(t, 1+(g+k)%4, inner)
				}
			}(g)
		}
		wg.Wait()
	}
}
