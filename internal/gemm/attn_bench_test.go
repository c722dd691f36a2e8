package gemm

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAttnChunk times the two products of one attention job as
// nn.Attention runs them (8 heads of 40, 4096 tokens, 128 queries, K and V
// packed once per head, one thread): S = Q·Kᵀ and O = P·V.
func BenchmarkAttnChunk(b *testing.B) {
	const lk, dim, d, rows = 4096, 320, 40, 128
	r := rand.New(rand.NewPCG(5, 5))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = r.Float32() - 0.5
		}
		return x
	}
	q, k, v := fill(rows*dim), fill(lk*dim), fill(lk*dim)
	ld := lk + 16
	s := fill(rows * ld)
	out := make([]float32, rows*dim)
	kp, vp := PackBT(k, dim, d, lk), PackB(v, dim, lk, d)
	gf := func(b *testing.B) {
		b.ReportMetric(2*float64(rows*lk*d)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
	}
	b.Run("QK", func(b *testing.B) {
		for b.Loop() {
			SgemmPacked(rows, q, dim, kp, s, ld, 1)
		}
		gf(b)
	})
	b.Run("PV", func(b *testing.B) {
		for b.Loop() {
			SgemmPacked(rows, s, ld, vp, out, dim, 1)
		}
		gf(b)
	})
}
