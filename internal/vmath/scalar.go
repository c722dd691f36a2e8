package vmath

import "math"

// This file holds the portable implementation. It is the specification
// the assembly follows step for step: every fma32 below is one
// VFMADD/VFNMADD instruction there, every other float32 operation one
// instruction of the same IEEE operation, so all paths give the same bits.

// fma32 returns a*b+c rounded once to float32, the result of one lane of
// VFMADD231PS.
//
// The float64 product of two float32 values is exact, so s = p+c carries a
// single float64 rounding. Rounding s again to float32 is then correct
// unless s is exactly halfway between two float32 values (the float64
// rounding may have moved it there) or lies in the float32 subnormal range
// (where halfway points are elsewhere); only those rare cases recover the
// rounding error e of p+c (TwoSum) and, when it is not zero, move s to its
// float64 neighbour with an odd last bit (round-to-odd), after which the
// float32 rounding is correct because float64 has more than 24+1 bits.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	if bits := math.Float64bits(s); bits&(1<<29-1) != 1<<28 && bits&(1<<63-1) >= 0x3810000000000000 { // |s| >= 2^-126
		return float32(s)
	}
	return fma32Slow(p, c, s)
}

// fma32Slow finishes fma32 when s = p+c may round wrongly to float32.
//
//go:noinline
func fma32Slow(p float64, c float32, s float64) float32 {
	cc := float64(c)
	v := s - p
	e := (p - (s - v)) + (cc - v)
	if bits := math.Float64bits(s); e != 0 && e == e && bits&1 == 0 {
		if (e > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
		s = math.Float64frombits(bits)
	}
	return float32(s)
}

// min86 and max86 are VMINPS and VMAXPS with a as the first and b as the
// second source: b is returned when the two compare equal (±0) or either is
// NaN, so a NaN in b propagates.
func min86(a, b float32) float32 {
	if a < b {
		return a
	}
	return b
}

func max86(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

// Constants of exp (see the package documentation).
const (
	expHi    = 89.0            // exp(89) overflows: larger inputs give +Inf
	expLo    = -104.0          // exp(-104) < 2^-150 rounds to 0
	expMagic = 12582912.0      // 1.5·2^23: adding it rounds to an integer
	expC5    = 1.9875691500e-4 // Cephes expf coefficients of e^r:
	expC4    = 1.3981999507e-3 //   1 + r + r²(1/2 + c1·r + ... + c5·r⁴)
	expC3    = 8.3334519073e-3 //   on |r| <= ln2/2
	expC2    = 4.1665795894e-2
	expC1    = 1.6666665459e-1
	expC0    = 5.0000001201e-1
)

var (
	log2e = float32(math.Log2E)
	ln2Hi = float32(math.Ln2)                              // 0x3f317218
	ln2Lo = float32(math.Ln2 - float64(float32(math.Ln2))) // ln2 - ln2Hi
)

// exp1 is exp for one float32.
func exp1(x float32) float32 {
	x = min86(expHi, x)
	x = max86(expLo, x)
	k := fma32(x, log2e, expMagic) // expMagic + round(x·log2e)
	n := k - expMagic              // exact
	r := fma32(-n, ln2Hi, x)       // exact
	r = fma32(-n, ln2Lo, r)
	p := fma32(expC5, r, expC4)
	p = fma32(p, r, expC3)
	p = fma32(p, r, expC2)
	p = fma32(p, r, expC1)
	p = fma32(p, r, expC0)
	p = fma32(p, r, 1)
	p = fma32(p, r, 1)
	// 2^n as 2^n1 · 2^n2, both normal for n in [-150, 128]; the first
	// product is exact, the second rounds once (to a subnormal, or to
	// +Inf, where due).
	ni := int32(math.Float32bits(k) - math.Float32bits(expMagic))
	n1 := ni >> 1
	n2 := ni - n1
	s1 := math.Float32frombits(uint32(n1+127) << 23)
	s2 := math.Float32frombits(uint32(n2+127) << 23)
	return float32(p*s1) * s2
}

// Constants of GELU (see the package documentation). geluR[k] multiplies
// t^k in R(t) ≈ Φ(-u)·exp(u²/2), t = 1/(1 + geluP·u); fitted by
// TestFitGELU.
const (
	geluP    = 0.4
	geluUMax = 16.0 // Φ(-16) ≈ 6e-58: q is 0 from here on
)

var geluR = [...]float32{
	-8.8882291e-07, 0.159600124, 0.159347281, 0.134953067, 0.0840450376,
	-0.0077514709, 0.0863837153, -0.336335599, 0.355227083, -0.165694103,
	0.0302257575,
}

// phiNeg returns q = Φ(-u) = erfc(u/√2)/2 for u = |x| (clamped to
// geluUMax) as exp(-u²/2)·R(t), with u² split exactly into s + e.
func phiNeg(x float32) float32 {
	u := math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
	u = min86(geluUMax, u)
	s := u * u
	e := fma32(u, u, -s)
	t := 1 / fma32(u, geluP, 1)
	r := geluR[len(geluR)-1]
	for k := len(geluR) - 2; k >= 0; k-- {
		r = fma32(r, t, geluR[k])
	}
	r = fma32(r, e*-0.5, r) // exp(-e/2) ≈ 1 - e/2
	return exp1(s*-0.5) * r
}

// gelu1 is GELU(x) = x·Φ(x), with Φ(x) = q for x < 0 and 1-q otherwise;
// the choice follows the sign bit, so -0 gives -0.
func gelu1(x float32) float32 {
	q := phiNeg(x)
	if math.Float32bits(x)>>31 == 0 {
		q = 1 - q
	}
	return x * q
}

// sigmoidMul1 is x / (1 + exp(y)), SiLU with y = -x, QuickGELU with
// y = -1.702·x.
func sigmoidMul1(x, y float32) float32 {
	return x / (1 + exp1(y))
}
