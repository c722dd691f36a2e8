package vmath

import "math"

// WidenF16 converts IEEE half-precision values to float32, exactly
// (subnormals, signed zeros and infinities included; NaNs stay NaN). It is
// how float16 checkpoints are used without being copied to float32 at load:
// weights are widened just before each product.
func WidenF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	n := 0
	if hasF16C {
		n = len(src) &^ 7
		if n > 0 {
			widenF16C(&dst[0], &src[0], n)
		}
	}
	for i := n; i < len(src); i++ {
		dst[i] = F16ToF32(src[i])
	}
}

// F16ToF32 widens one IEEE half-precision value exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN: keep the payload, shifted.
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0: // normal: re-bias 15 -> 127.
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	default: // subnormal m * 2^-24 is a normal float32.
		e := uint32(113)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
}
