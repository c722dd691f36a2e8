package gemm

import (
	"sync"
	"time"
)

// Ceiling measures the micro-kernel of the kernel set in use on
// cache-resident data, on threads goroutines at once for about d, and
// returns the multiply-add rate in GFLOPS (2 FLOPs each): what a product
// could reach if packing, memory and the split cost nothing, against which
// a network's speed is read.
//
// The kernel is the widest of the set, the one most products run: 6x16
// for AVX2 and Go, 6x64 for AVX-512 (10-17% faster than its 6x32 on a
// 2-core Xeon, as fast as its 6x48; see stripStepAt), with kc steps whose
// B strips stay in a 32 KiB L1.
func Ceiling(threads int, d time.Duration) float64 {
	im := CurrentImpl()
	w, kc := sw, 256
	if im == ImplAVX512 {
		w, kc = tmpWidth, 96
	}
	return callRate(threads, d, func() func() {
		a, b, c := kernelOperands(kc)
		return func() { microKernel(im, w, kc, a, 1, mr, b, sw*kc, c, tmpWidth, true) }
	}) * 2 * float64(mr*w*kc) / 1e9
}

// callRate runs a kernel call on threads goroutines at once for about d
// and returns the calls per second of all of them; newCall gives each
// goroutine its call (with its own operands).
func callRate(threads int, d time.Duration, newCall func() func()) float64 {
	threads = max(threads, 1)
	calls := make([]int, threads)
	start := time.Now()
	var wg sync.WaitGroup
	for t := range threads {
		wg.Go(func() {
			call := newCall()
			for time.Since(start) < d {
				for range 256 {
					call()
				}
				calls[t] += 256
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range calls {
		total += n
	}
	return float64(total) / time.Since(start).Seconds()
}

// kernelOperands are a micro-kernel's A (6 x kc), packed B (kc x 64) and
// C tile (6 x 64), small enough to stay in L1, filled with a value that
// neither overflows nor underflows.
func kernelOperands(kc int) (a, b, c []float32) {
	a, b, c = make([]float32, mr*kc), make([]float32, tmpWidth*kc), make([]float32, mr*tmpWidth)
	for i := range a {
		a[i] = 1e-3
	}
	for i := range b {
		b[i] = 1e-3
	}
	return a, b, c
}

// CeilingBF16 is Ceiling for the bfloat16 kernel (SgemmBF16), 0 where it
// runs in Go: each pair step is two multiply-adds per element.
func CeilingBF16(threads int, d time.Duration) float64 {
	if !bf16Kernel() {
		return 0
	}
	const kc = 128 // pairs: B's 32 KiB stay in L1
	return callRate(threads, d, func() func() {
		a, b, c := make([]uint32, mr*kc), make([]uint32, 2*sw*kc), make([]float32, mr*nr)
		off := make([]int, kc)
		for q := range off {
			off[q] = q * mr
		}
		for i := range a {
			a[i] = PairBF16(1e-3, 1e-3)
		}
		for i := range b {
			b[i] = PairBF16(1e-3, 1e-3)
		}
		return func() { kernBF16Asm(1, kc, a, off, b, sw*kc, c, nr, true) }
	}) * 2 * float64(mr*nr*2*kc) / 1e9
}
