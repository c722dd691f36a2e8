package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSgemmRowsIsSgemm: B given as row offsets into a buffer (overlapping,
// in any order) must give the bits of Sgemm on the same B written out, on
// every kernel set and thread count.
func TestSgemmRowsIsSgemm(t *testing.T) {
	splitTiny(t)
	r := rand.New(rand.NewPCG(9, 10))
	for _, im := range impls() {
		for _, sz := range [][3]int{{1, 1, 1}, {7, 33, 9}, {13, 100, 27}, {64, 258, 90}, {6, 16, 300}, {25, 70, 800}, {8, 48, 1000}} {
			m, n, k := sz[0], sz[1], sz[2]
			t.Run(fmt.Sprintf("%v/%dx%dx%d", im, m, n, k), func(t *testing.T) {
				withImpl(t, im)
				src := randMat(r, 1, n+3*k)
				off := make([]int, k)
				b := make([]float32, k*n)
				for p := range off {
					off[p] = r.IntN(3*k + 1)
					copy(b[p*n:(p+1)*n], src[off[p]:off[p]+n])
				}
				a := randMat(r, m, k)
				want := make([]float32, m*n)
				Sgemm(m, n, k, a, k, b, n, want, n, 1)
				for _, threads := range []int{1, 2, 3} {
					got := make([]float32, m*n)
					SgemmRows(m, n, k, a, k, src, off, got, n, threads)
					sameBits(t, fmt.Sprintf("%d threads", threads), got, want)
				}
			})
		}
	}
}

// TestSgemmOffAIsSgemm: A given as column offsets into a buffer must give
// the bits of Sgemm on the same A written out, on every kernel set and
// thread count, with narrow last strips and short last tiles.
func TestSgemmOffAIsSgemm(t *testing.T) {
	splitTiny(t)
	r := rand.New(rand.NewPCG(11, 12))
	for _, im := range impls() {
		for _, sz := range [][3]int{{1, 1, 1}, {7, 33, 9}, {13, 100, 27}, {64, 48, 90}, {25, 70, 800}, {100, 32, 1000}, {6, 16, 5}} {
			m, n, k := sz[0], sz[1], sz[2]
			t.Run(fmt.Sprintf("%v/%dx%dx%d", im, m, n, k), func(t *testing.T) {
				withImpl(t, im)
				src := randMat(r, 1, m+3*k)
				off := make([]int, k)
				a := make([]float32, m*k)
				for p := range off {
					off[p] = r.IntN(3*k + 1)
					for i := 0; i < m; i++ {
						a[i*k+p] = src[off[p]+i]
					}
				}
				b := randMat(r, k, n)
				want := make([]float32, m*n)
				Sgemm(m, n, k, a, k, b, n, want, n, 1)
				pb := PackB(b, n, k, n)
				for _, threads := range []int{1, 2, 3} {
					got := make([]float32, m*n)
					SgemmOffA(m, src, off, pb, got, n, threads)
					sameBits(t, fmt.Sprintf("%d threads", threads), got, want)
				}
			})
		}
	}
}
