package vmath

import (
	"math"
	"testing"
)

// TestWidenF16AllValues checks every half-precision bit pattern against the
// IEEE definition (value = (-1)^s · 2^(e-15) · 1.m, subnormals 2^-14 · 0.m),
// at every offset of the vector body and tail.
func TestWidenF16AllValues(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	for _, off := range []int{0, 1, 7, 9} {
		dst := make([]float32, len(src)-off)
		WidenF16(dst, src[off:])
		for i, got := range dst {
			h := src[off+i]
			want := halfValue(h)
			if math.IsNaN(want) {
				if !math.IsNaN(float64(got)) {
					t.Fatalf("offset %d: %#04x -> %g, want NaN", off, h, got)
				}
				continue
			}
			if float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
				t.Fatalf("offset %d: %#04x -> %g, want %g", off, h, got, want)
			}
		}
	}
}

func halfValue(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10)&0x1f, float64(h&0x3ff)
	switch {
	case e == 0x1f && m == 0:
		return math.Copysign(math.Inf(1), sign)
	case e == 0x1f:
		return math.NaN()
	case e == 0:
		return math.Copysign(m*math.Ldexp(1, -24), sign)
	}
	return sign * (1 + m/1024) * math.Ldexp(1, e-15)
}

func BenchmarkWidenF16(b *testing.B) {
	src := make([]uint16, 1<<20)
	for i := range src {
		src[i] = uint16(i * 7)
	}
	dst := make([]float32, len(src))
	b.SetBytes(int64(len(src) * 2))
	for b.Loop() {
		WidenF16(dst, src)
	}
}
