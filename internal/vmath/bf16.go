package vmath

import (
	"math"
	"unsafe"
)

// ToBF16 rounds f to the nearest bfloat16 (its float32 bits' high half),
// ties to even; a NaN stays NaN (quieted), large values round to
// infinity as they should.
func ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// RoundBF16 writes dst[j] = ToBF16(src[j]) for j < len(src); dst must
// be as long. The AVX-512 set rounds 16 at a time, the same bits.
func RoundBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	n := 0
	if CurrentImpl() == ImplAVX512 {
		if n = len(src) &^ 15; n > 0 {
			roundBF16Asm(&dst[0], &src[0], n)
		}
	}
	for j := n; j < len(src); j++ {
		dst[j] = ToBF16(src[j])
	}
}

// PairBF16 writes dst[j] = ToBF16(lo[j]) | ToBF16(hi[j])<<16, the pair
// words of a bfloat16 product (gemm.SgemmBF16), for j < len(dst); hi nil
// means zeros. lo and hi must be at least as long as dst.
func PairBF16(dst []uint32, lo, hi []float32) {
	lo = lo[:len(dst)]
	if hi == nil {
		for j, v := range lo {
			dst[j] = uint32(ToBF16(v))
		}
		return
	}
	hi = hi[:len(dst)]
	n := 0
	if CurrentImpl() == ImplAVX512 {
		if n = len(dst) &^ 15; n > 0 {
			pairBF16Asm(&dst[0], &lo[0], &hi[0], n)
		}
	}
	for j := n; j < len(dst); j++ {
		dst[j] = uint32(ToBF16(lo[j])) | uint32(ToBF16(hi[j]))<<16
	}
}

// Transpose16 writes dst[i*ldd+r] = src[r*lds+i] for i, r < 16, 32-bit
// words moved as they are (bfloat16 pairs being packed). The AVX-512 set
// transposes in registers; the others run the loop.
func Transpose16(dst []uint32, ldd int, src []uint32, lds int) {
	_ = dst[15*ldd+15]
	_ = src[15*lds+15]
	if CurrentImpl() == ImplAVX512 {
		transpose16Asm(&dst[0], ldd, &src[0], lds)
		return
	}
	for i := 0; i < 16; i++ {
		row := dst[i*ldd : i*ldd+16]
		for r := range row {
			row[r] = src[r*lds+i]
		}
	}
}

// PairAdjacentBF16 writes dst[q] = ToBF16(src[2q]) | ToBF16(src[2q+1])<<16
// for q < len(dst): a row's neighbours paired, as a linear layer's input
// and weights are. src must hold 2*len(dst) values.
func PairAdjacentBF16(dst []uint32, src []float32) {
	src = src[:2*len(dst)]
	n := 0
	if CurrentImpl() == ImplAVX512 {
		// Rounded straight into the words' halves: low half first in
		// memory, as on every machine that has this kernel set.
		if n = len(src) &^ 15; n > 0 {
			roundBF16Asm((*uint16)(unsafe.Pointer(&dst[0])), &src[0], n)
		}
	}
	for q := n / 2; q < len(dst); q++ {
		dst[q] = uint32(ToBF16(src[2*q])) | uint32(ToBF16(src[2*q+1]))<<16
	}
}
