package nn

import (
	"math"
)

// attnChunk is how many query rows share one score buffer: the full
// tokens x tokens score matrix of a 512 px image would be 64 MiB per head.
const attnChunk = 128

// Attention computes softmax(q·kᵀ·scale)·v for every head of one batch item.
// q is [lq, dim], k and v are [lk, dim], heads split dim evenly; the result
// is [lq, dim]. With causal, query i only sees keys 0..i.
func Attention(q, k, v []float32, lq, lk, dim, heads int, scale float32, causal bool) []float32 {
	d := dim / heads
	out := make([]float32, lq*dim)
	// Per head: Kᵀ [d, lk] and V [lk, d] gathered contiguous.
	kt := make([]float32, heads*d*lk)
	vh := make([]float32, heads*lk*d)
	for h := 0; h < heads; h++ {
		for j := 0; j < lk; j++ {
			for e := 0; e < d; e++ {
				kt[h*d*lk+e*lk+j] = k[j*dim+h*d+e]
				vh[h*lk*d+j*d+e] = v[j*dim+h*d+e]
			}
		}
	}
	chunks := (lq + attnChunk - 1) / attnChunk
	parallelFor(heads*chunks, 1, func(lo, hi int) {
		qs := make([]float32, attnChunk*d)
		s := make([]float32, attnChunk*lk)
		o := make([]float32, attnChunk*d)
		for job := lo; job < hi; job++ {
			h, r0 := job/chunks, (job%chunks)*attnChunk
			rows := min(attnChunk, lq-r0)
			for r := 0; r < rows; r++ {
				copy(qs[r*d:(r+1)*d], q[(r0+r)*dim+h*d:])
			}
			matMulBlock(s, qs, kt[h*d*lk:(h+1)*d*lk], 0, rows, 0, lk, lk, d)
			for r := 0; r < rows; r++ {
				n := lk
				if causal {
					n = min(r0+r+1, lk)
				}
				row := s[r*lk : (r+1)*lk]
				softmaxScaled(row[:n], scale)
				clear(row[n:])
			}
			matMulBlock(o, s, vh[h*lk*d:(h+1)*lk*d], 0, rows, 0, d, d, lk)
			for r := 0; r < rows; r++ {
				copy(out[(r0+r)*dim+h*d:(r0+r)*dim+(h+1)*d], o[r*d:(r+1)*d])
			}
		}
	})
	return out
}

// softmaxScaled replaces row by softmax(row·scale).
func softmaxScaled(row []float32, scale float32) {
	mx := float32(math.Inf(-1))
	for i, x := range row {
		x *= scale
		row[i] = x
		mx = max(mx, x)
	}
	var sum float32
	for i, x := range row {
		e := float32(math.Exp(float64(x - mx)))
		row[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range row {
		row[i] *= inv
	}
}
