package gemm

import "testing"

// BenchmarkKernel measures a micro-kernel alone on cache-resident data:
// the ceiling for the blocked product.
func BenchmarkKernel(b *testing.B) {
	const kc = 256
	a, bb, c := kernelOperands(kc)
	for _, im := range impls() {
		b.Run(im.String(), func(b *testing.B) {
			for b.Loop() {
				microKernel(im, nr, kc, a, 1, mr, bb, sw*kc, c, nr, true)
			}
			b.ReportMetric(2*mr*nr*kc*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
