package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bf16Inputs are float32 bit patterns that probe the rounding: ties both
// ways, just off them, the largest finite value (rounds to infinity),
// infinities, quiet and signalling NaNs, subnormals, zeros, then random
// bits.
func bf16Inputs(r *rand.Rand, n int) []float32 {
	special := []uint32{0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0xbf818000, 0x7f7fffff, 0xff7fffff,
		0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffa00000, 0x00000001, 0x807fffff, 0, 0x80000000, 0x00018000}
	v := make([]float32, n)
	for i := range v {
		u := r.Uint32()
		if i < len(special) {
			u = special[i]
		}
		v[i] = math.Float32frombits(u)
	}
	return v
}

// TestRoundBF16: every kernel set rounds as ToBF16 does, bit for bit, the
// 16-wide part and the tail; ToBF16 itself on the cases that define it.
func TestRoundBF16(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{{0x3f808000, 0x3f80}, {0x3f818000, 0x3f82}, {0x3f808001, 0x3f81}, {0x7f7fffff, 0x7f80}, {0x7f800001, 0x7fc0}, {0x80000000, 0x8000}} {
		if got := ToBF16(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("ToBF16(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	r := rand.New(rand.NewPCG(16, 1))
	forEachImpl(t, func(t *testing.T, _ Impl) {
		for _, n := range []int{0, 5, 16, 37, 1000} {
			lo, hi := bf16Inputs(r, n), bf16Inputs(r, n)
			round := make([]uint16, n)
			RoundBF16(round, lo)
			pairs := make([]uint32, n)
			PairBF16(pairs, lo, hi)
			only := make([]uint32, n)
			PairBF16(only, lo, nil)
			adj := make([]uint32, n/2)
			PairAdjacentBF16(adj, lo)
			for q := range adj {
				if want := uint32(ToBF16(lo[2*q])) | uint32(ToBF16(lo[2*q+1]))<<16; adj[q] != want {
					t.Fatalf("n %d: PairAdjacentBF16[%d] = %#08x, want %#08x", n, q, adj[q], want)
				}
			}
			for j := range n {
				w := ToBF16(lo[j])
				if round[j] != w {
					t.Fatalf("n %d: RoundBF16[%d] of %#08x = %#04x, want %#04x", n, j, math.Float32bits(lo[j]), round[j], w)
				}
				if want := uint32(w) | uint32(ToBF16(hi[j]))<<16; pairs[j] != want {
					t.Fatalf("n %d: PairBF16[%d] = %#08x, want %#08x", n, j, pairs[j], want)
				}
				if only[j] != uint32(w) {
					t.Fatalf("n %d: PairBF16 without hi [%d] = %#08x, want %#08x", n, j, only[j], w)
				}
			}
		}
	})
}

// TestTranspose16: every kernel set moves each word, NaN patterns
// included, to its transposed place and touches nothing else.
func TestTranspose16(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 2))
	forEachImpl(t, func(t *testing.T, _ Impl) {
		for _, ld := range [][2]int{{16, 16}, {37, 20}, {4096, 320}} {
			ldd, lds := ld[0], ld[1]
			src := make([]uint32, 15*lds+16)
			for i := range src {
				src[i] = r.Uint32() | 0x7f800000 // many NaNs
			}
			dst := make([]uint32, 15*ldd+16+3)
			for i := range dst {
				dst[i] = 7
			}
			Transpose16(dst, ldd, src, lds)
			written := 0
			for i := 0; i < 16; i++ {
				for c := 0; c < 16; c++ {
					if got, want := dst[i*ldd+c], src[c*lds+i]; got != want {
						t.Fatalf("ld %v: dst[%d][%d] = %#08x, want %#08x", ld, i, c, got, want)
					}
				}
			}
			for _, v := range dst {
				if v != 7 {
					written++
				}
			}
			if written != 256 {
				t.Fatalf("ld %v: %d words written, want 256", ld, written)
			}
		}
	})
}
