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

// packedPool recycles the packed weights of convolutions (see
// packedWeights).
var packedPool sync.Pool

// pooledPacked is a weight matrix packed as a right-hand operand.
type pooledPacked struct{ pb *gemm.PackedB }

// packedWeights packs w [out, k] as the operand B[k, out] of a product
// with pixels as rows (float16 widened on the way), reusing pooled memory;
// release gives it back.
func packedWeights(w weights.Matrix) *pooledPacked {
	p, _ := packedPool.Get().(*pooledPacked)
	if p == nil {
		p = new(pooledPacked)
	}
	if w.F16 != nil {
		p.pb = gemm.RepackBTHalf(p.pb, w.F16, w.Cols, w.Cols, w.Rows, Threads())
	} else {
		p.pb = gemm.RepackBT(p.pb, w.F32, w.Cols, w.Cols, w.Rows)
	}
	return p
}

func (p *pooledPacked) release() { packedPool.Put(p) }
