package nn

import (
	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/reuse"
	"github.com/imggen/imggen/internal/weights"
)

// packedPool recycles the packed weights of convolutions (see
// packedWeights).
var packedPool = reuse.Pool[*pooledPacked]{New: func() *pooledPacked { return new(pooledPacked) }}

// pooledPacked is a weight matrix packed as a right-hand operand.
type pooledPacked struct{ pb *gemm.PackedB }

// packedWeights packs w [out, k] as the operand B[k, out] of a product
// with pixels as rows (float16 widened on the way), reusing pooled memory;
// release gives it back.
func packedWeights(w weights.Matrix) *pooledPacked {
	p := packedPool.Get()
	if w.F16 != nil {
		p.pb = gemm.RepackBTHalf(p.pb, w.F16, w.Cols, w.Cols, w.Rows, Threads())
	} else {
		p.pb = gemm.RepackBT(p.pb, w.F32, w.Cols, w.Cols, w.Rows)
	}
	return p
}

func (p *pooledPacked) release() { packedPool.Put(p) }
