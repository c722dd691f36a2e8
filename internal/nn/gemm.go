package nn

import (
	"sync"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/weights"
)

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
