//go:build !purego && amd64

package gemm

import (
	"fmt"
	"sync"
	"testing"
)

// BenchmarkFMAPeak measures the AVX2 multiply-add ceiling of this machine
// on 1 and 2 goroutines (one per core): FMAs on registers only, no
// memory. The kernels' GFLOPS are read against it.
func BenchmarkFMAPeak(b *testing.B) {
	if !hasAVX2 {
		b.Skip("no AVX2+FMA")
	}
	const rounds = 1 << 20
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("t%d", th), func(b *testing.B) {
			for b.Loop() {
				var wg sync.WaitGroup
				for range th {
					wg.Add(1)
					go func() { defer wg.Done(); fmaPeak(rounds) }()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(th)*12*16*rounds*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}
