package vmath

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks on 4096-long rows, reported as ns/elem, for each kernel set
// this machine runs ("go", "avx2", "avx512") and the scalar code vmath
// replaces ("nn", copied in baseline_test.go). The in-place functions are
// fed a fresh copy of the input each iteration (for every variant alike).
//
//	go test -run '^$' -bench . -count 6 ./internal/vmath | tee new.txt
//	benchstat -col /impl new.txt

const benchN = 4096

func benchInput(scale float64) []float32 {
	r := rand.New(rand.NewPCG(11, 12))
	v := make([]float32, benchN)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

// benchVariants runs f under each kernel set, and base as "nn".
func benchVariants(b *testing.B, f, base func()) {
	old := CurrentImpl()
	defer SetImpl(old)
	for _, im := range impls() {
		SetImpl(im)
		b.Run("impl="+im.String(), func(b *testing.B) { loop(b, f) })
	}
	if base != nil {
		b.Run("impl=nn", func(b *testing.B) { loop(b, base) })
	}
}

func loop(b *testing.B, f func()) {
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchN, "ns/elem")
}

func BenchmarkExp(b *testing.B) {
	src, dst := benchInput(10), make([]float32, benchN)
	benchVariants(b, func() { Exp(dst, src) }, func() {
		for i, x := range src {
			dst[i] = float32(expF64(float64(x)))
		}
	})
}

func BenchmarkSoftmaxScaled(b *testing.B) {
	src, row := benchInput(24), make([]float32, benchN)
	benchVariants(b, func() { copy(row, src); SoftmaxScaled(row, benchN, 0.125) },
		func() { copy(row, src); nnSoftmaxScaled(row, 0.125) })
}

func BenchmarkSiLU(b *testing.B) {
	src, v := benchInput(3), make([]float32, benchN)
	benchVariants(b, func() { copy(v, src); SiLU(v) }, func() { copy(v, src); nnSiLU(v) })
}

func BenchmarkGELU(b *testing.B) {
	src, v := benchInput(3), make([]float32, benchN)
	benchVariants(b, func() { copy(v, src); GELU(v) }, func() { copy(v, src); nnGELU(v) })
}

func BenchmarkQuickGELU(b *testing.B) {
	src, v := benchInput(3), make([]float32, benchN)
	benchVariants(b, func() { copy(v, src); QuickGELU(v) }, func() { copy(v, src); nnQuickGELU(v) })
}

// BenchmarkGEGLU: one row, inner = 4096 (ns per output element).
func BenchmarkGEGLU(b *testing.B) {
	x := append(benchInput(3), benchInput(2)...)
	dst := make([]float32, benchN)
	benchVariants(b, func() { GEGLU(dst, x, benchN) }, func() {
		copy(dst, x[benchN:])
		nnGELU(dst)
		for j := range dst {
			dst[j] *= x[j]
		}
	})
}

// BenchmarkScaleShiftSiLU is GroupNorm's apply step with SiLU; the
// baseline is nn.GroupNorm's loop.
func BenchmarkScaleShiftSiLU(b *testing.B) {
	src, dst := benchInput(3), make([]float32, benchN)
	benchVariants(b, func() { ScaleShift(dst, src, 0.8, 0.1, true) }, func() {
		for j, v := range src {
			dst[j] = v*0.8 + 0.1
		}
		nnSiLU(dst)
	})
}

func BenchmarkScaleShift(b *testing.B) {
	src, dst := benchInput(3), make([]float32, benchN)
	benchVariants(b, func() { ScaleShift(dst, src, 0.8, 0.1, false) }, func() {
		for j, v := range src {
			dst[j] = v*0.8 + 0.1
		}
	})
}

var sinkF64 float64

func BenchmarkMoments(b *testing.B) {
	src := benchInput(3)
	benchVariants(b, func() { m, v := Moments(src); sinkF64 += m + v },
		func() { m, v := nnMoments(src); sinkF64 += m + v })
}
