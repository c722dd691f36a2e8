//go:build !purego && amd64

package vmath

import "golang.org/x/sys/cpu"

// The assembly kernels (vmath_amd64.s). n is a multiple of 16 (32 for sum
// and sumSqDiff); dst may equal src.

//go:noescape
func expAVX2(dst, src *float32, n int)

//go:noescape
func expAVX512(dst, src *float32, n int)

//go:noescape
func siluAVX2(dst, src *float32, n int)

//go:noescape
func siluAVX512(dst, src *float32, n int)

//go:noescape
func quickGELUAVX2(dst, src *float32, n int)

//go:noescape
func quickGELUAVX512(dst, src *float32, n int)

//go:noescape
func geluAVX2(dst, src *float32, n int)

//go:noescape
func geluAVX512(dst, src *float32, n int)

//go:noescape
func gegluAVX2(dst, a, b, ba, bb *float32, n int)

//go:noescape
func gegluAVX512(dst, a, b, ba, bb *float32, n int)

//go:noescape
func scaleShiftAVX2(dst, src *float32, n int, scale, shift float32, silu int)

//go:noescape
func scaleShiftAVX512(dst, src *float32, n int, scale, shift float32, silu int)

//go:noescape
func maxScaledAVX2(src *float32, n int, scale float32, lanes *[16]float32)

//go:noescape
func maxScaledAVX512(src *float32, n int, scale float32, lanes *[16]float32)

//go:noescape
func expSumAVX2(row *float32, n int, scale, m float32, acc *[16]float32)

//go:noescape
func expSumAVX512(row *float32, n int, scale, m float32, acc *[16]float32)

//go:noescape
func mulAVX2(row *float32, n int, c float32)

//go:noescape
func mulAVX512(row *float32, n int, c float32)

//go:noescape
func sumAVX2(src *float32, n int, acc *[32]float64)

//go:noescape
func sumAVX512(src *float32, n int, acc *[32]float64)

//go:noescape
func sumSqDiffAVX2(src *float32, n int, c float64, acc *[32]float64)

//go:noescape
func sumSqDiffAVX512(src *float32, n int, c float64, acc *[32]float64)

// hasAVX512 and hasAVX2 say which kernels this CPU (and OS, for the wide
// register state) can run. The AVX-512 kernels use VANDPS/VORPS/VXORPS on
// Z registers, hence DQ.
var (
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// Unary operations with an assembly kernel.
const (
	opExp = iota
	opSiLU
	opGELU
	opQuickGELU
)

// unaryAsm runs op on n elements (a multiple of 16) with the kernels of
// im (ImplAVX2 or ImplAVX512).
func unaryAsm(im Impl, op int, dst, src *float32, n int) {
	if im == ImplAVX512 {
		switch op {
		case opExp:
			expAVX512(dst, src, n)
		case opSiLU:
			siluAVX512(dst, src, n)
		case opGELU:
			geluAVX512(dst, src, n)
		case opQuickGELU:
			quickGELUAVX512(dst, src, n)
		}
		return
	}
	switch op {
	case opExp:
		expAVX2(dst, src, n)
	case opSiLU:
		siluAVX2(dst, src, n)
	case opGELU:
		geluAVX2(dst, src, n)
	case opQuickGELU:
		quickGELUAVX2(dst, src, n)
	}
}

func gegluAsm(im Impl, dst, a, b, ba, bb *float32, n int) {
	if im == ImplAVX512 {
		gegluAVX512(dst, a, b, ba, bb, n)
	} else {
		gegluAVX2(dst, a, b, ba, bb, n)
	}
}

func scaleShiftAsm(im Impl, dst, src *float32, n int, scale, shift float32, silu int) {
	if im == ImplAVX512 {
		scaleShiftAVX512(dst, src, n, scale, shift, silu)
	} else {
		scaleShiftAVX2(dst, src, n, scale, shift, silu)
	}
}

func maxScaledAsm(im Impl, src *float32, n int, scale float32, lanes *[16]float32) {
	if im == ImplAVX512 {
		maxScaledAVX512(src, n, scale, lanes)
	} else {
		maxScaledAVX2(src, n, scale, lanes)
	}
}

func expSumAsm(im Impl, row *float32, n int, scale, m float32, acc *[16]float32) {
	if im == ImplAVX512 {
		expSumAVX512(row, n, scale, m, acc)
	} else {
		expSumAVX2(row, n, scale, m, acc)
	}
}

func mulAsm(im Impl, row *float32, n int, c float32) {
	if im == ImplAVX512 {
		mulAVX512(row, n, c)
	} else {
		mulAVX2(row, n, c)
	}
}

func sumAsm(im Impl, src *float32, n int, acc *[32]float64) {
	if im == ImplAVX512 {
		sumAVX512(src, n, acc)
	} else {
		sumAVX2(src, n, acc)
	}
}

func sumSqDiffAsm(im Impl, src *float32, n int, c float64, acc *[32]float64) {
	if im == ImplAVX512 {
		sumSqDiffAVX512(src, n, c, acc)
	} else {
		sumSqDiffAVX2(src, n, c, acc)
	}
}

//go:noescape
func transposeAddBias16AVX512(dst *float32, ldd int, src *float32, lds int, bias *float32)

func transposeAddBias16Asm(dst *float32, ldd int, src *float32, lds int, bias *float32) {
	transposeAddBias16AVX512(dst, ldd, src, lds, bias)
}

//go:noescape
func widenTranspose16AVX512(dst *float32, src *uint16, lds int)

func widenTranspose16Asm(dst *float32, src *uint16, lds int) { widenTranspose16AVX512(dst, src, lds) }

//go:noescape
func pairBF16AVX512(dst *uint32, lo, hi *float32, n int)

//go:noescape
func roundBF16AVX512(dst *uint16, src *float32, n int)

//go:noescape
func transpose16AVX512(dst *uint32, ldd int, src *uint32, lds int)

func pairBF16Asm(dst *uint32, lo, hi *float32, n int) { pairBF16AVX512(dst, lo, hi, n) }
func roundBF16Asm(dst *uint16, src *float32, n int)   { roundBF16AVX512(dst, src, n) }
func transpose16Asm(dst *uint32, ldd int, src *uint32, lds int) {
	transpose16AVX512(dst, ldd, src, lds)
}

//go:noescape
func winogradIn4AVX512(d0, d1, d2, d3, v0, v1, v2, v3 *float32, n int)

//go:noescape
func winogradOut2AVX512(q0, q1, q2, q3, s0, s1 *float32, n int)

func winogradIn4Asm(d0, d1, d2, d3, v0, v1, v2, v3 *float32, n int) {
	winogradIn4AVX512(d0, d1, d2, d3, v0, v1, v2, v3, n)
}

func winogradOut2Asm(q0, q1, q2, q3, s0, s1 *float32, n int) {
	winogradOut2AVX512(q0, q1, q2, q3, s0, s1, n)
}
