// Package nn holds the numeric building blocks of the networks: matrix
// products, convolutions, normalisations, activations and attention, all on
// float32 NCHW (images) or [tokens, channels] (sequences) data.
//
// Work is split across goroutines only along output rows or columns, never
// along a reduction, so results are bit-identical whatever the thread count.
package nn

import (
	"runtime"
	"sync/atomic"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/team"
)

var threads atomic.Int32

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many goroutines the kernels use (at least 1).
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	threads.Store(int32(n))
}

// Threads reports the current thread count.
func Threads() int { return int(threads.Load()) }

// splitAll makes parallelFor ignore minChunk (SplitAllWork).
var splitAll atomic.Bool

// SplitAllWork makes every loop and matrix product that can be split split
// across the threads, however little work it holds, until the returned
// function restores the defaults. A test hook: results must be the same
// bits for any thread count, which only a test that really splits the work
// can show. Not safe to call while networks run.
func SplitAllWork() (restore func()) {
	splitAll.Store(true)
	restoreGemm := gemm.SplitTinyProducts()
	return func() {
		splitAll.Store(false)
		restoreGemm()
	}
}

// parallelFor calls fn over [0, n) split into contiguous chunks, one per
// thread, each at least minChunk long.
func parallelFor(n, minChunk int, fn func(lo, hi int)) {
	t := Threads()
	if minChunk < 1 || splitAll.Load() {
		minChunk = 1
	}
	if mx := (n + minChunk - 1) / minChunk; t > mx {
		t = mx
	}
	if t <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	chunk := (n + t - 1) / t
	team.Run((n+chunk-1)/chunk, func(i int) { fn(i*chunk, min((i+1)*chunk, n)) })
}
