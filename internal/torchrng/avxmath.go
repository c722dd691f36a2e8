package torchrng

import "math"

// This file emulates, one lane at a time, the single-precision Cephes-style
// log and sincos that torch 1.13's AVX2 randn kernel uses (avx_mathfun.h),
// compiled with fused multiply-adds. Every float32 operation is rounded as
// the vector instruction rounds it; products that the C compiler did NOT
// fuse are wrapped in float32() so that Go cannot fuse them either (an
// explicit conversion forbids fusion), and the ones it did fuse go through
// fma32.

// fma32 is a single-precision fused multiply-add: a*b+c rounded once to
// float32. The float64 product of two float32 values is exact; the sum is
// formed in float64 with round-to-odd (TwoSum, then the error term forces
// the last bit), which makes the final float32 rounding a correct single
// rounding instead of a double rounding.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cc := float64(c)
	s := p + cc
	bv := s - p
	t := (p - (s - bv)) + (cc - bv)
	if t != 0 && math.Float64bits(s)&1 == 0 {
		if (t > 0) == (s > 0) {
			s = math.Float64frombits(math.Float64bits(s) + 1)
		} else {
			s = math.Float64frombits(math.Float64bits(s) - 1)
		}
	}
	return float32(s)
}

// Cephes logf polynomial and range-reduction constants (avx_mathfun.h).
const (
	logP0  float32 = 7.0376836292e-2
	logP1  float32 = -1.1514610310e-1
	logP2  float32 = 1.1676998740e-1
	logP3  float32 = -1.2420140846e-1
	logP4  float32 = +1.4249322787e-1
	logP5  float32 = -1.6668057665e-1
	logP6  float32 = +2.0000714765e-1
	logP7  float32 = -2.4999993993e-1
	logP8  float32 = +3.3333331174e-1
	logQ1  float32 = -2.12194440e-4
	logQ2  float32 = 0.693359375
	sqrtHF float32 = 0.707106781186547524
)

// Cephes sinf/cosf constants (avx_mathfun.h).
const (
	fourOverPi float32 = 1.27323954473516
	minusDP1   float32 = -0.78515625
	minusDP2   float32 = -2.4187564849853515625e-4
	minusDP3   float32 = -3.77489497744594108e-8
	sinP0      float32 = -1.9515295891e-4
	sinP1      float32 = 8.3321608736e-3
	sinP2      float32 = -1.6666654611e-1
	cosP0      float32 = 2.443315711809948e-5
	cosP1      float32 = -1.388731625493765e-3
	cosP2      float32 = 4.166664568298827e-2
)

// log256 is one lane of log256_ps. Inputs here are in (0, 1]; x <= 0 gives
// NaN like the vector code.
func log256(xin float32) float32 {
	if !(xin > 0) {
		return float32(math.NaN())
	}
	x := xin
	if x < math.SmallestNonzeroFloat32*(1<<23) { // min_norm_pos: cut off denormals
		x = math.Float32frombits(0x00800000)
	}
	bits := math.Float32bits(x)
	imm0 := int32(bits>>23) - 0x7f
	x = math.Float32frombits((bits &^ 0x7f800000) | math.Float32bits(0.5))
	e := float32(imm0) + 1
	if x < sqrtHF {
		e = e - 1
		x = (x - 1) + x
	} else {
		x = x - 1
	}
	z := float32(x * x)
	y := logP0
	y = fma32(y, x, logP1)
	y = fma32(y, x, logP2)
	y = fma32(y, x, logP3)
	y = fma32(y, x, logP4)
	y = fma32(y, x, logP5)
	y = fma32(y, x, logP6)
	y = fma32(y, x, logP7)
	y = fma32(y, x, logP8)
	y = float32(y * x)
	y = fma32(y, z, float32(e*logQ1))
	y = y - float32(z*0.5)
	x = x + y
	x = fma32(e, logQ2, x)
	return x
}

// sincos256 is one lane of sincos256_ps.
func sincos256(xin float32) (s, c float32) {
	signSin := math.Float32bits(xin) & 0x80000000
	x := math.Float32frombits(math.Float32bits(xin) &^ 0x80000000)
	y := float32(x * fourOverPi)
	j := int32(y) // cvttps: truncation
	j = (j + 1) &^ 1
	y = float32(j)
	swapSin := uint32(j&4) << 29
	polySin := j&2 == 0
	x = fma32(y, minusDP1, x)
	x = fma32(y, minusDP2, x)
	x = fma32(y, minusDP3, x)
	signCos := uint32(^(j-2)&4) << 29
	signSin ^= swapSin

	z := float32(x * x)
	yc := cosP0
	yc = fma32(yc, z, cosP1)
	yc = fma32(yc, z, cosP2)
	yc = float32(yc * z)
	yc = fma32(yc, z, -float32(z*0.5))
	yc = yc + 1

	ys := sinP0
	ys = fma32(ys, z, sinP1)
	ys = fma32(ys, z, sinP2)
	ys = float32(ys * z)
	ys = fma32(ys, x, x)

	var sv, cv float32
	if polySin {
		sv, cv = ys, yc
	} else {
		sv, cv = yc, ys
	}
	s = math.Float32frombits(math.Float32bits(sv) ^ signSin)
	c = math.Float32frombits(math.Float32bits(cv) ^ signCos)
	return s, c
}
