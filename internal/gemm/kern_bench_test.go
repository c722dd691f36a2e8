package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkKernel measures each micro-kernel alone on cache-resident
// data: the ceiling for the blocked product (Ceiling runs the widest).
func BenchmarkKernel(b *testing.B) {
	const kc = 128
	a, bb, c := kernelOperands(kc)
	for _, im := range impls() {
		widths := []int{nr}
		if im == ImplAVX512 {
			widths = append(widths, 48, 64)
		}
		for _, w := range widths {
			b.Run(fmt.Sprintf("%v/6x%d", im, w), func(b *testing.B) {
				for b.Loop() {
					microKernel(im, w, kc, a, 1, mr, bb, sw*kc, c, tmpWidth, true)
				}
				b.ReportMetric(2*float64(mr*w*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			})
		}
	}
}
