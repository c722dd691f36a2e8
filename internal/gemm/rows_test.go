package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/imggen/imggen/internal/vmath"
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
		for _, sz := range [][3]int{{1, 1, 1}, {7, 33, 9}, {13, 100, 27}, {64, 48, 90}, {25, 70, 800}, {100, 32, 1000}, {6, 16, 5}, {61, 64, 400}, {30, 128, 200}, {40, 80, 50}, {19, 112, 30}, {13, 96, 20}, {50, 3, 40}, {20, 8, 100}, {31, 40, 12}, {9, 100, 30}} {
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

// randHalf returns n random finite float16 values (as bits) and their
// float32 widening.
func randHalf(r *rand.Rand, n int) ([]uint16, []float32) {
	h := make([]uint16, n)
	for i := range h {
		v := uint16(r.IntN(1 << 16))
		if v&0x7c00 == 0x7c00 { // Inf or NaN: make it finite
			v &^= 0x4000
		}
		h[i] = v
	}
	f := make([]float32, n)
	vmath.WidenF16(f, h)
	return h, f
}

// TestHalfOperands: a float16 A (SgemmHalfA), a float16 Bᵀ (SgemmNTHalf,
// RepackBTHalf) give the bits of the float32 products on the widened
// values, on every kernel set and thread count.
func TestHalfOperands(t *testing.T) {
	splitTiny(t)
	for _, bl := range []*blocking{nil, {kc: 8, mc: 12, nc: 32}} {
		// Small blocks: several K blocks and column panels even here, and
		// an A widened up front (n > 2 nc).
		prev := setBlocking(bl)
		testHalfOperands(t)
		setBlocking(prev)
	}
}

func testHalfOperands(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, im := range impls() {
		for _, sz := range [][3]int{{1, 1, 1}, {7, 33, 9}, {13, 100, 27}, {64, 48, 300}, {25, 70, 800}, {100, 32, 1000}, {60, 64, 500}} {
			m, n, k := sz[0], sz[1], sz[2]
			t.Run(fmt.Sprintf("%v/%dx%dx%d", im, m, n, k), func(t *testing.T) {
				withImpl(t, im)
				a16, a := randHalf(r, m*k)
				bt16, bt := randHalf(r, n*k)
				b := randMat(r, k, n)
				x := randMat(r, m, k)
				wantA := make([]float32, m*n)
				Sgemm(m, n, k, a, k, b, n, wantA, n, 1)
				wantB := make([]float32, m*n)
				SgemmNT(m, n, k, x, k, bt, k, wantB, n, 1)
				wantP := make([]float32, m*n)
				SgemmPacked(m, x, k, PackBT(bt, k, k, n), wantP, n, 1)
				for _, threads := range []int{1, 2, 3} {
					got := make([]float32, m*n)
					SgemmHalfA(m, n, k, a16, k, b, n, got, n, threads)
					sameBits(t, fmt.Sprintf("SgemmHalfA, %d threads", threads), got, wantA)
					SgemmNTHalf(m, n, k, x, k, bt16, k, got, n, threads)
					sameBits(t, fmt.Sprintf("SgemmNTHalf, %d threads", threads), got, wantB)
					SgemmPacked(m, x, k, RepackBTHalf(nil, bt16, k, k, n, threads), got, n, threads)
					sameBits(t, fmt.Sprintf("RepackBTHalf, %d threads", threads), got, wantP)
					SgemmHalfANT(m, n, k, a16, k, transposed(b, k, n), k, got, n, threads)
					sameBits(t, fmt.Sprintf("SgemmHalfANT, %d threads", threads), got, wantA)
					SgemmHalfAPacked(m, a16, k, fillStrips(b, k, n), got, n, threads)
					sameBits(t, fmt.Sprintf("SgemmHalfAPacked, %d threads", threads), got, wantA)
				}
			})
		}
	}
}

// fillStrips packs B[k,n] (leading dimension n) through ReusePackedB and
// Strip, in reused memory full of NaNs, as a caller building its own
// packed operand does.
func fillStrips(b []float32, k, n int) *PackedB {
	junk := &PackedB{data: make([]float32, packedLen(k, n)+100)}
	for i := range junk.data {
		junk.data[i] = float32(math.NaN())
	}
	pb := ReusePackedB(junk, k, n)
	for q := 0; q < pb.Strips(); q++ {
		strip := pb.Strip(q)
		for p := 0; p < k; p++ {
			for jj := 0; jj < StripWidth; jj++ {
				v := float32(0)
				if j := q*StripWidth + jj; j < n {
					v = b[p*n+j]
				}
				strip[p*StripWidth+jj] = v
			}
		}
	}
	return pb
}

// TestPackedBStrips: Strip(q) is the layout PackB writes.
func TestPackedBStrips(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, sz := range [][2]int{{1, 1}, {5, 16}, {9, 17}, {30, 70}} {
		k, n := sz[0], sz[1]
		b := randMat(r, k, n)
		sameBits(t, fmt.Sprintf("%dx%d", k, n), fillStrips(b, k, n).data, PackB(b, n, k, n).data)
	}
}

// transposed returns bᵀ[n,k] of b[k,n].
func transposed(b []float32, k, n int) []float32 {
	bt := make([]float32, n*k)
	for p := 0; p < k; p++ {
		for j := 0; j < n; j++ {
			bt[j*k+p] = b[p*n+j]
		}
	}
	return bt
}
