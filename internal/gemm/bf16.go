package gemm

import (
	"fmt"
	"math"
	"sync"

	"github.com/imggen/imggen/internal/vmath"
)

// The bfloat16 product (an opt-in precision, --precision bf16).
//
// Both operands are rounded to bfloat16 (float32's exponent, 8 significant
// bits) and multiplied in pairs with float32 accumulation, as AVX-512 BF16's
// VDPBF16PS does: c += a.lo·b.lo... in the order that instruction defines,
//
//	c = c + a.hi·b.hi, then c = c + a.lo·b.lo
//
// each product exact (8 x 8 bits fit float32), each sum rounded to nearest
// even, subnormal inputs read as zero and subnormal sums flushed to zero.
// A "pair" is one 32-bit word holding two bfloat16 values, lo = the even
// row of K, hi = the odd one. Twice the multiply-adds per instruction, half
// the bytes per operand: about twice the float32 kernel's rate, at roughly
// three significant decimal digits per operand.
//
// A is read in place through an offset table, as in SgemmOffA: pair
// (i, q) of A is a[aOff[q]+i]. B is packed once (PackBF16T) in 16-column
// strips of pairs. Every C element is one chain over q = 0..pairs-1 in
// increasing order, whatever the thread count or blocking, so the bits do
// not depend on them; kernBF16Go gives the assembly kernel's bits.

// PackedBF16 is B[k, n] rounded to bfloat16 and packed as pairs of rows,
// for SgemmBF16: strip s (columns 16s..16s+15) holds pairs x 16 words,
// word (q, j) = pair (B[k0(q), j], B[k1(q), j]). The strip count is even
// (a last strip of zeros if need be), so the kernel always runs 32 columns.
type PackedBF16 struct {
	n, pairs, strips int
	data             []uint32
}

// Pairs reports how many pairs of B's rows the pack holds.
func (pb *PackedBF16) Pairs() int { return pb.pairs }

// bf16Strips is the (even) number of 16-column strips of n columns.
func bf16Strips(n int) int { return (n + 2*sw - 1) / (2 * sw) * 2 }

// BF16Pairs is how many pairs PackBF16T makes of k rows grouped by group
// (see there).
func BF16Pairs(k, group int) int { return (k/group + 1) / 2 * group }

// PackBF16T packs B = Wᵀ from w [n, k] (float16 bits in w16, or float32
// in w32), reusing pb's memory if it has room. The rows of B are paired
// within groups: k is channels x group (a convolution's weight row is
// channel-major, group = 9 taps; a linear layer's has group 1), and pair
// q = (cp, t) holds channels 2cp and 2cp+1 of tap t, i.e. rows
// cp*2*group + t and that + group, zero where the channel count is odd.
// A's offsets must follow the same order.
func PackBF16T(pb *PackedBF16, w16 []uint16, w32 []float32, n, k, group, threads int) *PackedBF16 {
	if group < 1 || k%group != 0 {
		panic(fmt.Sprintf("gemm: k = %d is not a multiple of the pair group %d", k, group))
	}
	if (w16 == nil) == (w32 == nil) || max(len(w16), len(w32)) < n*k {
		panic(fmt.Sprintf("gemm: weights for PackBF16T [%d, %d] missing or short", n, k))
	}
	if pb == nil {
		pb = new(PackedBF16)
	}
	pairs := BF16Pairs(k, group)
	strips := bf16Strips(n)
	pb.n, pb.pairs, pb.strips = n, pairs, strips
	if cap(pb.data) < strips*pairs*sw {
		pb.data = make([]uint32, strips*pairs*sw)
	}
	pb.data = pb.data[:strips*pairs*sw]
	channels := k / group
	parallel(strips, threads, func(s0, s1 int) {
		// Per strip: its 16 weight rows widened and paired into rows of
		// pair words (tmp), then transposed 16x16 at a time into the
		// strip's [pair][column] layout.
		row := make([]float32, k)
		lo, hi := make([]float32, pairs), make([]float32, pairs)
		tmp := make([]uint32, sw*pairs)
		for s := s0; s < s1; s++ {
			for jj := 0; jj < sw; jj++ {
				t, j := tmp[jj*pairs:(jj+1)*pairs], s*sw+jj
				if j >= n {
					clear(t)
					continue
				}
				if w16 != nil {
					vmath.WidenF16(row, w16[j*k:(j+1)*k])
				} else {
					copy(row, w32[j*k:(j+1)*k])
				}
				if group == 1 && k%2 == 0 {
					vmath.PairAdjacentBF16(t, row)
					continue
				}
				clear(hi[(channels/2)*group:])
				// Element by element: copy's call costs more than a run of 9.
				for cp := 0; cp < channels/2; cp++ {
					l, h, src := lo[cp*group:(cp+1)*group], hi[cp*group:(cp+1)*group], row[2*cp*group:(2*cp+2)*group]
					for t := range l {
						l[t], h[t] = src[t], src[group+t]
					}
				}
				if channels%2 == 1 {
					copy(lo[(channels/2)*group:], row[(channels-1)*group:])
				}
				vmath.PairBF16(t, lo, hi)
			}
			dst := pb.data[s*pairs*sw : (s+1)*pairs*sw]
			q := 0
			for ; q+sw <= pairs; q += sw {
				vmath.Transpose16(dst[q*sw:], sw, tmp[q:], pairs)
			}
			for ; q < pairs; q++ {
				for jj := 0; jj < sw; jj++ {
					dst[q*sw+jj] = tmp[jj*pairs+q]
				}
			}
		}
	})
	return pb
}

// ToBF16 rounds f to the nearest bfloat16, ties to even (NaN stays NaN),
// as VCVTNEPS2BF16 does for normal numbers.
func ToBF16(f float32) uint16 { return vmath.ToBF16(f) }

// FromBF16 widens a bfloat16 value exactly.
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// PairBF16 is the pair word (lo, hi), each rounded to bfloat16.
func PairBF16(lo, hi float32) uint32 { return uint32(ToBF16(lo)) | uint32(ToBF16(hi))<<16 }

// SgemmBF16 computes C[m, n] = A·B in bfloat16 pairs (see above) with B
// packed (n and the pair count come from pb) and pair (i, q) of A at
// a[aOff[q]+i]; C is overwritten. Panics if an offset or C is out of
// range. Needs the AVX-512 BF16 kernel (HasBF16) for speed; the Go kernel
// gives the same bits, slowly.
func SgemmBF16(m int, a []uint32, aOff []int, pb *PackedBF16, c []float32, ldc int, threads int) {
	checkMat("c", c, ldc, m, pb.n)
	checkOffsets("pair", len(a), aOff, pb.pairs, m)
	if m == 0 || pb.n == 0 {
		return
	}
	g := &bf16Problem{m: m, a: a, aOff: aOff, pb: pb, c: c, ldc: ldc, asm: bf16Kernel()}
	if pb.pairs == 0 {
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+pb.n])
		}
		return
	}
	mt, st := (m+mr-1)/mr, pb.strips/2
	t := min(max(threads, 1), mt*st, max(1, m*pb.n*2*pb.pairs/minWorkPerThread))
	productsRun.Add(1)
	multiplyAdds.Add(int64(m) * int64(pb.n) * int64(2*pb.pairs))
	// Split the side whose largest share is smallest; B is packed, so
	// either costs nothing up front.
	if (mt+t-1)/t*st <= mt*((st+t-1)/t) {
		parallel(mt, t, func(lo, hi int) { g.run(lo*mr, min(hi*mr, m), 0, st) })
	} else {
		parallel(st, t, func(lo, hi int) { g.run(0, m, lo, hi) })
	}
}

type bf16Problem struct {
	m    int
	a    []uint32
	aOff []int
	pb   *PackedBF16
	c    []float32
	ldc  int
	asm  bool
}

// Blocking of the bfloat16 product: kc pairs of a 32-column strip pair
// (32 KiB) stay in L1 while the tiles of mc rows stream past.
const (
	kcBF16 = 256
	mcBF16 = 120
)

// bf16Scratch is one goroutine's edge tile: A packed (offsets 0, 6, 12,
// ...) and a C tile for tiles that overhang C.
type bf16Scratch struct {
	a   []uint32
	off []int
	c   [mr * nr]float32
}

var bf16Scratches = sync.Pool{New: func() any { return new(bf16Scratch) }}

// run computes rows [i0, i1) (i0 a multiple of 6) of C against strip
// pairs [s0, s1): K blocks in increasing order, then row blocks, then
// strip pairs, the kernel running down all full tiles of a row block.
func (g *bf16Problem) run(i0, i1, s0, s1 int) {
	sc := bf16Scratches.Get().(*bf16Scratch)
	defer bf16Scratches.Put(sc)
	pairs, n := g.pb.pairs, g.pb.n
	kc := even(pairs, kcBF16, 1)
	mc := even(i1-i0, mcBF16, mr)
	bn := pairs * sw // from one strip to the next
	for pc := 0; pc < pairs; pc += kc {
		kw := min(kc, pairs-pc)
		off := g.aOff[pc : pc+kw]
		load := pc > 0
		if cap(sc.off) < kw {
			sc.off = make([]int, kc)
			sc.a = make([]uint32, kc*mr)
		}
		edgeOff := sc.off[:kw]
		for q := range edgeOff {
			edgeOff[q] = q * mr
		}
		for ic := i0; ic < i1; ic += mc {
			rows := min(mc, i1-ic)
			full := rows / mr
			edge := rows%mr != 0
			if edge {
				// The last tile's rows, zero past m, so the kernel reads
				// only what is there.
				at, r0, valid := sc.a[:kw*mr], ic+full*mr, rows%mr
				for q, o := range off {
					for r := 0; r < mr; r++ {
						at[q*mr+r] = 0
						if r < valid {
							at[q*mr+r] = g.a[o+r0+r]
						}
					}
				}
			}
			for s := s0; s < s1; s++ {
				b := g.pb.data[2*s*bn+pc*sw:]
				j := s * 2 * sw
				valid := min(2*sw, n-j)
				if valid == 2*sw && full > 0 {
					g.kernel(full, kw, g.a[ic:], off, b, bn, g.c[ic*g.ldc+j:], g.ldc, load)
				} else if full > 0 {
					for t := 0; t < full; t++ {
						g.tile(sc, ic+t*mr, mr, j, valid, kw, g.a[ic+t*mr:], off, b, bn, load)
					}
				}
				if edge {
					g.tile(sc, ic+full*mr, rows%mr, j, valid, kw, sc.a, edgeOff, b, bn, load)
				}
			}
		}
	}
}

// tile runs one 6x32 tile whose C part is rows x valid, through sc.c.
func (g *bf16Problem) tile(sc *bf16Scratch, i, rows, j, valid, kw int, a []uint32, off []int, b []uint32, bn int, load bool) {
	t := sc.c[:]
	if load {
		for r := 0; r < rows; r++ {
			copy(t[r*nr:r*nr+valid], g.c[(i+r)*g.ldc+j:])
		}
	}
	g.kernel(1, kw, a, off, b, bn, t, nr, load)
	for r := 0; r < rows; r++ {
		copy(g.c[(i+r)*g.ldc+j:(i+r)*g.ldc+j+valid], t[r*nr:])
	}
}

// kernel runs tiles 6x32 tiles down one strip pair: tile t reads A pairs
// a[off[q] + 6t + r] and writes c[(6t+r)*ldc + jj].
func (g *bf16Problem) kernel(tiles, kw int, a []uint32, off []int, b []uint32, bn int, c []float32, ldc int, load bool) {
	// The far corners, so that the bounds are checked once.
	_ = b[bn+(kw-1)*sw+sw-1]
	_ = c[((tiles-1)*mr+mr-1)*ldc+nr-1]
	if g.asm {
		for _, o := range off {
			_ = a[o+tiles*mr-1]
		}
		kernBF16Asm(tiles, kw, a, off, b, bn, c, ldc, load)
		return
	}
	kernBF16Go(tiles, kw, a, off, b, bn, c, ldc, load)
}

// kernBF16Go is the bfloat16 micro-kernel in Go, the bits of the assembly
// one (and of VDPBF16PS as Intel defines it).
func kernBF16Go(tiles, kc int, a []uint32, off []int, b []uint32, bn int, c []float32, ldc int, load bool) {
	var acc [nr]float32
	for t := 0; t < tiles; t++ {
		for r := 0; r < mr; r++ {
			crow := c[(t*mr+r)*ldc:][:nr]
			if load {
				copy(acc[:], crow)
			} else {
				acc = [nr]float32{}
			}
			for q := 0; q < kc; q++ {
				aw := a[off[q]+t*mr+r]
				ahi, alo := dazBF16(uint16(aw>>16)), dazBF16(uint16(aw))
				b0, b1 := b[q*sw:q*sw+sw], b[bn+q*sw:bn+q*sw+sw]
				for jj, bw := range b0 {
					acc[jj] = dotBF16(acc[jj], ahi, alo, bw)
				}
				for jj, bw := range b1 {
					acc[sw+jj] = dotBF16(acc[sw+jj], ahi, alo, bw)
				}
			}
			copy(crow, acc[:])
		}
	}
}

// DotBF16 is one lane of VDPBF16PS: acc + a.hi·b.hi, then + a.lo·b.lo,
// subnormal inputs as zero and subnormal results flushed to zero.
func DotBF16(acc float32, a, b uint32) float32 {
	return dotBF16(acc, dazBF16(uint16(a>>16)), dazBF16(uint16(a)), b)
}

// dotBF16 is DotBF16 with a's halves already widened.
func dotBF16(acc, ahi, alo float32, b uint32) float32 {
	acc = flushBF16(flushBF16(acc) + ahi*dazBF16(uint16(b>>16)))
	return flushBF16(acc + alo*dazBF16(uint16(b)))
}

// dazBF16 widens h, a subnormal as zero of its sign.
func dazBF16(h uint16) float32 {
	if h&0x7f80 == 0 {
		h &= 0x8000
	}
	return FromBF16(h)
}

// flushBF16 is f with a subnormal flushed to zero of its sign.
func flushBF16(f float32) float32 {
	u := math.Float32bits(f)
	if u&0x7f800000 == 0 {
		return math.Float32frombits(u & 0x80000000)
	}
	return f
}

// HasBF16 reports whether this CPU has the AVX-512 BF16 kernel, without
// which SgemmBF16 runs (the same bits) in Go, far slower.
func HasBF16() bool { return hasBF16 }

// PackedBF16Words is how many words PackBF16T needs for w [n, k] paired by
// group, so that a caller can provide the memory (PackedBF16On).
func PackedBF16Words(n, k, group int) int {
	return bf16Strips(n) * BF16Pairs(k, group) * sw
}

// PackedBF16On returns an empty pack whose PackBF16T uses data (if it is
// large enough, PackedBF16Words) instead of allocating.
func PackedBF16On(data []uint32) *PackedBF16 { return &PackedBF16{data: data[:0]} }
