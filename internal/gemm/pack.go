package gemm

import (
	"fmt"

	"github.com/imggen/imggen/internal/vmath"
)

// Packed B layout. B[k,n] is cut into strips of sw = 16 columns; strip q
// holds columns 16q..16q+15 row after row, element (p, j) at
// q*sstride + p*16 + j (sstride = 16*k for a whole matrix, 16*kc for a
// panel), zero past column n. So every kernel reads B as one or two
// contiguous streams of 64-byte rows: the 16-wide kernels one strip, the
// 32-wide kernel two neighbouring strips.
const sw = 16

// PackedB is a constant right-hand operand B[k,n] laid out once for the
// kernels, for weights that are used many times. It does not depend on the
// kernel set or the cache blocking, and is safe for concurrent use.
type PackedB struct {
	k, n int
	data []float32 // strip q at q*sw*k
}

// K and N report the shape of the packed B[k,n].
func (p *PackedB) K() int { return p.k }
func (p *PackedB) N() int { return p.n }

// PackB packs B[k,n], row-major with leading dimension ldb.
func PackB(b []float32, ldb, k, n int) *PackedB {
	checkMat("b", b, ldb, k, n)
	return packWhole(nil, b, ldb, false, nil, k, n, 1)
}

// PackBT packs B[k,n] given as its transpose bt[n,k] (row-major, leading
// dimension ldbt): a Linear weight W[out,in] is the Bᵀ of y = x·Wᵀ, and
// K[lk,d] is the Bᵀ of Q·Kᵀ.
func PackBT(bt []float32, ldbt, k, n int) *PackedB {
	checkMat("bt", bt, ldbt, n, k)
	return packWhole(nil, bt, ldbt, true, nil, k, n, 1)
}

// RepackB is PackB reusing the memory of pb (which may be nil) when it
// is large enough: for operands packed over and over, such as the keys
// and values of each attention head.
func RepackB(pb *PackedB, b []float32, ldb, k, n int) *PackedB {
	checkMat("b", b, ldb, k, n)
	return packWhole(pb.buf(), b, ldb, false, nil, k, n, 1)
}

// RepackBT is PackBT reusing the memory of pb (which may be nil).
func RepackBT(pb *PackedB, bt []float32, ldbt, k, n int) *PackedB {
	checkMat("bt", bt, ldbt, n, k)
	return packWhole(pb.buf(), bt, ldbt, true, nil, k, n, 1)
}

// RepackBTHalf is RepackBT from IEEE float16 bits (a float16 weight matrix
// as mapped from its file): the values are widened as they are packed, so
// no float32 copy of the matrix is made; up to threads goroutines share
// the strips. The result is RepackBT's on the widened matrix, bit for bit.
func RepackBTHalf(pb *PackedB, bt []uint16, ldbt, k, n, threads int) *PackedB {
	checkMat("bt", bt, ldbt, n, k)
	return packWholeHalfT(pb.buf(), bt, ldbt, k, n, threads)
}

// StripWidth is the number of columns of B in one packed strip.
const StripWidth = sw

// ReusePackedB returns a packed B[k,n] for the caller to fill, in the
// memory of pb (which may be nil) when it is large enough, with any
// content: Strip(q) of every q < Strips() must be written in full, the
// columns past n with zeros. For operands that are cheaper to build in
// the packed layout than to lay out and then pack, such as the patch
// matrix of a convolution.
func ReusePackedB(pb *PackedB, k, n int) *PackedB {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("gemm: packed B of %d x %d", k, n))
	}
	return &PackedB{k: k, n: n, data: grow(pb.buf(), packedLen(k, n))}
}

// Strips is the number of StripWidth-column strips of p.
func (p *PackedB) Strips() int { return (p.n + sw - 1) / sw }

// Strip returns strip q of p: columns q*StripWidth onwards, row r of them
// at [r*StripWidth, (r+1)*StripWidth).
func (p *PackedB) Strip(q int) []float32 { return p.data[q*sw*p.k : (q+1)*sw*p.k] }

func (p *PackedB) buf() []float32 {
	if p == nil {
		return nil
	}
	return p.data
}

// packWhole packs all of B, splitting the strips across threads, into
// data if it is large enough (packedLen), else into new memory.
func packWhole(data, b []float32, ld int, trans bool, rowOff []int, k, n, threads int) *PackedB {
	nq := (n + sw - 1) / sw
	pb := &PackedB{k: k, n: n, data: grow(data, packedLen(k, n))}
	parallel(nq, threads, func(q0, q1 int) {
		packStrips(pb.data, sw*k, b, ld, trans, rowOff, 0, k, 0, n, q0, q1)
	})
	return pb
}

// packWholeHalfT is packWhole for Bᵀ held as float16 bits.
func packWholeHalfT(data []float32, bt []uint16, ld, k, n, threads int) *PackedB {
	nq := (n + sw - 1) / sw
	pb := &PackedB{k: k, n: n, data: grow(data, packedLen(k, n))}
	parallel(nq, threads, func(q0, q1 int) {
		packStripsHalfT(pb.data, sw*k, bt, ld, 0, k, 0, n, q0, q1, nil)
	})
	return pb
}

// packedLen is the length of a packed B[k,n].
func packedLen(k, n int) int { return (n + sw - 1) / sw * sw * k }

// packStrips packs strips [q0, q1) of the block of B with rows [p0, p0+kw)
// and columns [j0, j0+cols) into dst, strip q at q*sstride. With trans, b
// holds Bᵀ: B(p, j) = b[j*ld+p]; with rowOff, B(p, j) = b[rowOff[p]+j].
func packStrips(dst []float32, sstride int, b []float32, ld int, trans bool, rowOff []int, p0, kw, j0, cols, q0, q1 int) {
	for q := q0; q < q1; q++ {
		valid := min(sw, cols-q*sw)
		out := dst[q*sstride : q*sstride+kw*sw]
		j := j0 + q*sw
		if !trans {
			for p := 0; p < kw; p++ {
				base := (p0 + p) * ld
				if rowOff != nil {
					base = rowOff[p0+p]
				}
				row := out[p*sw : (p+1)*sw]
				copy(row, b[base+j:base+j+valid])
				if valid < sw {
					clear(row[valid:])
				}
			}
			continue
		}
		if valid < sw {
			clear(out)
		}
		// Walk each source row (a column of B) contiguously and scatter it
		// with stride 16; 4 at a time to keep 4 streams in flight.
		jj := 0
		for ; jj+4 <= valid; jj += 4 {
			c0 := b[(j+jj)*ld+p0 : (j+jj)*ld+p0+kw]
			c1 := b[(j+jj+1)*ld+p0 : (j+jj+1)*ld+p0+kw]
			c2 := b[(j+jj+2)*ld+p0 : (j+jj+2)*ld+p0+kw]
			c3 := b[(j+jj+3)*ld+p0 : (j+jj+3)*ld+p0+kw]
			for p := range c0 {
				o := out[p*sw+jj : p*sw+jj+4]
				o[0], o[1], o[2], o[3] = c0[p], c1[p], c2[p], c3[p]
			}
		}
		for ; jj < valid; jj++ {
			col := b[(j+jj)*ld+p0 : (j+jj)*ld+p0+kw]
			for p, v := range col {
				out[p*sw+jj] = v
			}
		}
	}
}

// halfChunk is how many rows of B packStripsHalfT widens at a time: 16
// columns of it stay in L1 between widening and packing.
const halfChunk = 256

// packStripsHalfT is packStrips with trans for Bᵀ held as float16 bits.
// Where vmath transposes in registers (AVX-512), each full strip goes
// 16 x 16 blocks at a time, widened and transposed in one pass
// (vmath.WidenTranspose16). Otherwise, and for what is left, each strip's
// source rows are widened a chunk at a time into tmp (grown as needed,
// returned for reuse) and packed from there. Both give the same values.
func packStripsHalfT(dst []float32, sstride int, bt []uint16, ld, p0, kw, j0, cols, q0, q1 int, tmp []float32) []float32 {
	tmp = grow(tmp, sw*min(kw, halfChunk))
	inRegisters := vmath.CurrentImpl() == vmath.ImplAVX512
	for q := q0; q < q1; q++ {
		valid := min(sw, cols-q*sw)
		j := j0 + q*sw
		c0 := 0
		if inRegisters && valid == sw {
			for ; c0+sw <= kw; c0 += sw {
				vmath.WidenTranspose16(dst[q*sstride+c0*sw:], bt[j*ld+p0+c0:], ld)
			}
		}
		for ; c0 < kw; c0 += halfChunk {
			cn := min(halfChunk, kw-c0)
			for jj := 0; jj < valid; jj++ {
				src := bt[(j+jj)*ld+p0+c0:][:cn]
				vmath.WidenF16(tmp[jj*cn:(jj+1)*cn], src)
			}
			packStrips(dst[q*sstride+c0*sw:], sstride, tmp, cn, true, nil, 0, cn, 0, valid, 0, 1)
		}
	}
	return tmp
}

// packAEdge packs rows [i0, m) (fewer than mr) and columns [p0, p0+kw)
// of A into dst as dst[p*mr+i], zero for the missing rows, so that the
// kernel can run a full 6-row tile (rs = 1, cs = mr) without reading past
// A.
func packAEdge(dst, a []float32, lda, i0, m, p0, kw int) {
	dst = dst[:kw*mr]
	clear(dst)
	for i := 0; i < m-i0; i++ {
		row := a[(i0+i)*lda+p0 : (i0+i)*lda+p0+kw]
		for p, v := range row {
			dst[p*mr+i] = v
		}
	}
}

// packAOff packs the 6-row tile of an offset A starting at row i0
// (A(i, p) = a[off[p]+i]) into dst as dst[p*mr+r], zero past row m.
func packAOff(dst, a []float32, off []int, i0, m int) {
	rows := min(mr, m-i0)
	for p, o := range off {
		d := dst[p*mr : (p+1)*mr]
		copy(d[:rows], a[o+i0:o+i0+rows])
		clear(d[rows:])
	}
}

// checkMat panics unless x can hold a rows x cols matrix with leading
// dimension ld.
func checkMat[T float32 | uint16](name string, x []T, ld, rows, cols int) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("gemm: negative %s dimension %dx%d", name, rows, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("gemm: leading dimension of %s is %d < %d columns", name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("gemm: %s has %d elements, a %dx%d matrix with leading dimension %d needs %d", name, len(x), rows, cols, ld, need))
	}
}
