package bench

import "math"

// f32ToF16 rounds a float32 to the nearest IEEE 754 half-precision value,
// ties to even (as torch's .half() does), with subnormals, overflow to
// infinity, and NaN kept a quiet NaN.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	man := b & 0x7fffff
	if exp > 112 && exp < 142 {
		// Fast path: a normal half, below the largest binade. The rounding
		// carry may reach the exponent, and 0x7c00 (infinity) is then right.
		h := uint32(exp-112)<<10 | man>>13
		if rem := man & 0x1fff; rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // half's biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	var m uint32
	var shift uint
	if e > 0 {
		// Normal: keep 10 of the 23 mantissa bits; a carry out of the
		// mantissa moves to the exponent (up to infinity), which is right.
		m, shift = uint32(e)<<23|man, 13
	} else {
		// Subnormal (or zero): the value in units of 2^-24, rounded.
		if exp == 0 || 14-e > 24 {
			return sign // below half the smallest subnormal (or a float32 subnormal)
		}
		m, shift = man|0x800000, uint(14-e)
	}
	h := m >> shift
	rem, half := m&(1<<shift-1), uint32(1)<<(shift-1)
	if rem > half || (rem == half && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}
