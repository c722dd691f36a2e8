package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestToBF16(t *testing.T) {
	for _, tc := range []struct {
		in   uint32 // float32 bits
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x3f808001, 0x3f81}, // above the tie
		{0x3f807fff, 0x3f80}, // below the tie
		{0xbf818000, 0xbf82}, // negative tie
		{0x7f7fffff, 0x7f80}, // largest float32 rounds to +Inf
		{0x7f800000, 0x7f80}, // +Inf
		{0xff800000, 0xff80}, // -Inf
		{0x7f800001, 0x7fc0}, // signalling NaN stays NaN (quiet)
		{0x80000000, 0x8000}, // -0
	} {
		if got := ToBF16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

func TestDotBF16(t *testing.T) {
	pair := func(lo, hi float32) uint32 { return PairBF16(lo, hi) }
	for _, tc := range []struct {
		name string
		acc  float32
		a, b uint32
		want float32
	}{
		{"plain", 1, pair(2, 3), pair(5, 7), 1 + 21 + 10},
		// hi first: 2^24 + 1 rounds to 2^24 (even), then + 1 again.
		{"hi before lo", 1 << 24, pair(1, 1), pair(1, 1), 1 << 24},
		// lo first would give 2^24 + 2 (1 + 1 = 2 then exact).
		{"order", 0, pair(1, 1<<24), pair(1, 1), 1 << 24},
		{"subnormal input is zero", 1, 0x00010001, pair(1e30, 1e30), 1},
		{"subnormal sum flushed", 0, pair(0, 1e-20), pair(0, 1e-20), 0},
	} {
		if got := DotBF16(tc.acc, tc.a, tc.b); got != tc.want {
			t.Errorf("%s: DotBF16 = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// bf16Case is one product: m x n over channels x group rows of K.
type bf16Case struct {
	m, n, channels, group int
	f16                   bool
}

// refBF16 is C = A·B for SgemmBF16's operands, one DotBF16 chain per
// element, straight from the definitions.
func refBF16(m int, a []uint32, off []int, w []float32, n, k, group int) []float32 {
	channels := k / group
	pairs := BF16Pairs(k, group)
	c := make([]float32, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var acc float32
			for q := 0; q < pairs; q++ {
				cp, tap := q/group, q%group
				k0 := 2*cp*group + tap
				var hi float32
				if 2*cp+1 < channels {
					hi = w[j*k+k0+group]
				}
				acc = DotBF16(acc, a[off[q]+i], PairBF16(w[j*k+k0], hi))
			}
			c[i*n+j] = acc
		}
	}
	return c
}

// TestSgemmBF16 checks SgemmBF16 bit for bit against refBF16 for shapes
// with edge tiles, odd channel counts, several K blocks and any thread
// count, with the Go kernel and (where the CPU has it) the assembly one,
// and against float64 arithmetic on the rounded operands.
func TestSgemmBF16(t *testing.T) {
	cases := []bf16Case{
		{m: 6, n: 32, channels: 2, group: 1},
		{m: 13, n: 40, channels: 7, group: 9, f16: true},
		{m: 50, n: 16, channels: 5, group: 1},
		{m: 130, n: 70, channels: 67, group: 9}, // three K blocks, row blocks of 120
		{m: 7, n: 96, channels: 600, group: 1, f16: true},
	}
	impls := []Impl{ImplGo}
	if hasBF16 {
		impls = append(impls, ImplAVX512)
	}
	defer SetImpl(CurrentImpl())
	r := rand.New(rand.NewPCG(16, 16))
	for _, tc := range cases {
		k := tc.channels * tc.group
		w := make([]float32, tc.n*k)
		for i := range w {
			w[i] = float32(r.NormFloat64())
		}
		var w16 []uint16
		if tc.f16 {
			w16, w = randHalf(r, tc.n*k)
		}
		pairs := BF16Pairs(k, tc.group)
		// A: pair columns at scattered offsets, as a padded image gives.
		a := make([]uint32, tc.m+3*pairs)
		for i := range a {
			a[i] = PairBF16(float32(r.NormFloat64()), float32(r.NormFloat64()))
		}
		off := make([]int, pairs)
		for q := range off {
			off[q] = r.IntN(3*pairs + 1)
		}
		want := refBF16(tc.m, a, off, w, tc.n, k, tc.group)
		var pb *PackedBF16
		if tc.f16 {
			pb = PackBF16T(nil, w16, nil, tc.n, k, tc.group, 2)
		} else {
			pb = PackBF16T(nil, nil, w, tc.n, k, tc.group, 2)
		}
		for _, im := range impls {
			if err := SetImpl(im); err != nil {
				t.Fatal(err)
			}
			for _, threads := range []int{1, 2, 3} {
				ldc := tc.n + 3
				c := make([]float32, tc.m*ldc)
				for i := range c {
					c[i] = float32(math.NaN()) // overwritten, never read
				}
				restore := SplitTinyProducts()
				SgemmBF16(tc.m, a, off, pb, c, ldc, threads)
				restore()
				for i := 0; i < tc.m; i++ {
					for j := 0; j < tc.n; j++ {
						if got := c[i*ldc+j]; math.Float32bits(got) != math.Float32bits(want[i*tc.n+j]) {
							t.Fatalf("%+v %v threads %d: C[%d,%d] = %v, want %v", tc, im, threads, i, j, got, want[i*tc.n+j])
						}
					}
				}
			}
		}
		// The chain is float32 arithmetic on exact products: close to the
		// float64 sum of the same rounded values.
		for i := 0; i < tc.m; i += 5 {
			for j := 0; j < tc.n; j += 3 {
				var exact, mag float64
				for q := 0; q < pairs; q++ {
					bw := pb.data[(j/sw)*pairs*sw+q*sw+j%sw]
					aw := a[off[q]+i]
					for _, sh := range []uint{0, 16} {
						p := float64(FromBF16(uint16(aw>>sh))) * float64(FromBF16(uint16(bw>>sh)))
						exact += p
						mag += math.Abs(p)
					}
				}
				if d := math.Abs(float64(want[i*tc.n+j]) - exact); d > 2*float64(pairs)*mag*0x1p-24+1e-30 {
					t.Fatalf("%+v: C[%d,%d] = %v, float64 sum %v", tc, i, j, want[i*tc.n+j], exact)
				}
			}
		}
	}
}

func TestSgemmBF16Panics(t *testing.T) {
	pb := PackBF16T(nil, nil, make([]float32, 32*4), 32, 4, 1, 1)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"offset count", func() { SgemmBF16(6, make([]uint32, 64), []int{0}, pb, make([]float32, 6*32), 32, 1) }},
		{"offset past a", func() { SgemmBF16(6, make([]uint32, 64), []int{0, 60}, pb, make([]float32, 6*32), 32, 1) }},
		{"short c", func() { SgemmBF16(6, make([]uint32, 64), []int{0, 6}, pb, make([]float32, 5*32), 32, 1) }},
		{"group", func() { PackBF16T(nil, nil, make([]float32, 32*4), 32, 4, 3, 1) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}
