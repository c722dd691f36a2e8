package vmath

// TransposeAddBias16 writes dst[i*ldd+r] = src[r*lds+i] + bias[i] for
// i, r < 16: a 16 x 16 block of a pixels-by-channels product moved to
// channels by pixels, each channel's bias added (one rounding, so every
// kernel set gives the same bits). The AVX-512 set transposes in
// registers; the others run the loop.
func TransposeAddBias16(dst []float32, ldd int, src []float32, lds int, bias []float32) {
	_ = dst[15*ldd+15]
	_ = src[15*lds+15]
	_ = bias[15]
	if CurrentImpl() == ImplAVX512 {
		transposeAddBias16Asm(&dst[0], ldd, &src[0], lds, &bias[0])
		return
	}
	for i := 0; i < 16; i++ {
		b := bias[i]
		row := dst[i*ldd : i*ldd+16]
		for r := range row {
			row[r] = src[r*lds+i] + b
		}
	}
}

// WidenTranspose16 writes dst[p*16+j] = src[j*lds+p] widened from IEEE
// float16 bits, exactly as WidenF16 widens (NaNs stay NaN), for j, p < 16: 16 rows of a
// float16 matrix become 16 rows of one packed 16-column strip of its
// transpose, as a float16 weight is packed for a product. The AVX-512 set
// widens and transposes in registers; the others run the loop.
func WidenTranspose16(dst []float32, src []uint16, lds int) {
	_ = dst[255]
	_ = src[15*lds+15]
	if CurrentImpl() == ImplAVX512 {
		widenTranspose16Asm(&dst[0], &src[0], lds)
		return
	}
	for j := 0; j < 16; j++ {
		for p, h := range src[j*lds : j*lds+16] {
			dst[p*16+j] = F16ToF32(h)
		}
	}
}
