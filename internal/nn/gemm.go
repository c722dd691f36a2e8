package nn

import (
	"sync"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/weights"
)

// MatMul computes c[m,n] = a[m,k] · b[k,n] (row-major, c overwritten) with
// the gemm kernels. The result does not depend on the thread count.
func MatMul(c, a, b []float32, m, n, k int) {
	gemm.Sgemm(m, n, k, a, k, b, n, c, n, Threads())
}

// Transpose writes the transpose of a[rows, cols] into dst[cols, rows].
func Transpose(dst, a []float32, rows, cols int) {
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			dst[j*rows+i] = a[i*cols+j]
		}
	}
}

// scratch recycles the float32 buffers that float16 weights are widened
// into for one product: the weights stay float16 in memory between calls.
var scratch sync.Pool

// float32s returns m as float32: the stored slice, or a widened copy in a
// pooled buffer that release gives back.
func float32s(m weights.Matrix) (v []float32, release func()) {
	if m.F16 == nil {
		return m.F32, func() {}
	}
	n := m.Rows * m.Cols
	p, _ := scratch.Get().(*[]float32)
	if p == nil || cap(*p) < n {
		buf := make([]float32, n)
		p = &buf
	}
	v = (*p)[:n]
	// Widening is memory-bound; both cores' bandwidth helps.
	parallelFor(n, 1<<16, func(lo, hi int) {
		weights.Matrix{Rows: 1, Cols: hi - lo, F16: m.F16[lo:hi]}.Widen(v[lo:hi])
	})
	return v, func() { scratch.Put(p) }
}

// packedPool recycles the packed weights of convolutions (see
// packedWeights).
var packedPool sync.Pool

// pooledPacked is a weight matrix packed as a right-hand operand.
type pooledPacked struct{ pb *gemm.PackedB }

// packedWeights packs w[out, k] as the operand B[k, out] of a product
// with pixels as rows, reusing pooled memory; release gives it back.
func packedWeights(w []float32, k, out int) *pooledPacked {
	p, _ := packedPool.Get().(*pooledPacked)
	if p == nil {
		p = new(pooledPacked)
	}
	p.pb = gemm.RepackBT(p.pb, w, k, k, out)
	return p
}

func (p *pooledPacked) release() { packedPool.Put(p) }
