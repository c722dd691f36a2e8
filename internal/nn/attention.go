package nn

import (
	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/vmath"
)

// attnChunk is how many query rows share one score buffer: the full
// tokens x tokens score matrix of a 512 px image would be 64 MiB per head.
// 96 rows are 16 whole kernel tiles, and their 4096-token scores (1.6 MB)
// stay in a 2 MiB L2 beside the packed K and V: 4096-token attention 6%
// faster than with 128 on a 2-core Xeon (BenchmarkAttention4096x4096_8x40,
// n=6, p=0.04; 60 rows the same as 96).
const attnChunk = 96

// Attention computes softmax(q·kᵀ·scale)·v for every head of one batch item.
// q is [lq, dim], k and v are [lk, dim], heads split dim evenly; the result
// is [lq, dim]. With causal, query i only sees keys 0..i. Heads are read in
// place through the leading dimension, never gathered.
func Attention(q, k, v []float32, lq, lk, dim, heads int, scale float32, causal bool) []float32 {
	out := make([]float32, lq*dim)
	AttentionInto(out, q, k, v, lq, lk, dim, heads, scale, causal)
	return out
}

// AttentionInto is Attention writing its result to out [lq, dim], which it
// overwrites in full.
func AttentionInto(out, q, k, v []float32, lq, lk, dim, heads int, scale float32, causal bool) {
	d := dim / heads
	out = out[:lq*dim]
	chunks := (lq + attnChunk - 1) / attnChunk
	// Each job is one head and one chunk of query rows, with a one-thread
	// product inside, so the split never changes a sum. A goroutine's jobs
	// are contiguous, so it packs each head's Kᵀ and V (the B operands)
	// once, not once per chunk.
	// Score rows are padded so that their stride is not a multiple of a
	// large power of two: P·V with a stride of 4096 floats thrashes cache
	// sets (measured ~20% slower).
	ld := lk + 16
	parallelFor(heads*chunks, 1, func(lo, hi int) {
		sBuf := getFloats(attnChunk * ld) // scores: each row written before it is read
		defer putFloats(sBuf)
		s := *sBuf
		var kp, vp *gemm.PackedB
		packed := -1
		for job := lo; job < hi; job++ {
			h, r0 := job/chunks, (job%chunks)*attnChunk
			if h != packed {
				kp = gemm.RepackBT(kp, k[h*d:], dim, d, lk)
				vp = gemm.RepackB(vp, v[h*d:], dim, lk, d)
				packed = h
			}
			rows := min(attnChunk, lq-r0)
			gemm.SgemmPacked(rows, q[r0*dim+h*d:], dim, kp, s, ld, 1)
			for r := 0; r < rows; r++ {
				n := lk
				if causal {
					n = min(r0+r+1, lk)
				}
				vmath.SoftmaxScaled(s[r*ld:r*ld+lk], n, scale)
			}
			gemm.SgemmPacked(rows, s, ld, vp, out[r0*dim+h*d:], dim, 1)
		}
	})
}
