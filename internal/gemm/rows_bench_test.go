package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSgemmRows times 3x3 convolutions as nn.Conv2d.forwardShifted
// runs them: the VAE decoder's 128-channel layer at 512x512, one band of
// 255 output rows (n = 255*514, as the 64 MiB band cap gives), and the
// U-Net's 320-channel layer at 64x64; B rows come from the padded image
// through row offsets.
func BenchmarkSgemmRows(b *testing.B) {
	benchRows(b, "vae128_512x512", 128, 128, 512, 255)
	benchRows(b, "vae256_256x256", 256, 256, 256, 254)
	benchRows(b, "vae512_128x128", 512, 512, 128, 128)
	benchRows(b, "unet320_64x64", 320, 320, 64, 64)
	benchRows(b, "unet640_32x32", 640, 640, 32, 32)
}

// benchRows times SgemmRows as forwardShifted runs a 3x3 convolution of
// ch channels to out on an h x h image, for a band of rows output rows.
func benchRows(b *testing.B, name string, ch, out, h, rows int) {
	w := h
	pw := w + 2
	plane := (h + 2) * pw
	n, k := rows*pw, ch*9
	r := rand.New(rand.NewPCG(6, 6))
	img := make([]float32, ch*plane+2)
	for i := range img {
		img[i] = r.Float32() - 0.5
	}
	a := make([]float32, out*k)
	for i := range a {
		a[i] = r.Float32() - 0.5
	}
	off := make([]int, k)
	for c := 0; c < ch; c++ {
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				off[(c*3+ky)*3+kx] = c*plane + ky*pw + kx
			}
		}
	}
	c := make([]float32, out*n)
	// bfloat16 (SgemmBF16): channel pairs interleaved in one padded image
	// of words, the weights rounded and packed per call.
	cp := (ch + 1) / 2
	img2 := make([]uint32, cp*plane+2)
	for i := range img2 {
		img2[i] = PairBF16(r.Float32()-0.5, r.Float32()-0.5)
	}
	off2 := make([]int, 9*cp)
	for q := range off2 {
		tap := q % 9
		off2[q] = q/9*plane + tap/3*pw + tap%3
	}
	var pb2 *PackedBF16
	// The same product transposed, pixels as rows: the weights packed
	// (once per call, as the layer does) and the image read through
	// column offsets.
	for _, form := range []string{"rows", "offA", "bf16"} {
		if form == "bf16" && !bf16Kernel() {
			continue
		}
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%s/%s/t%d", name, form, CurrentImpl(), th), func(b *testing.B) {
				cpu0 := cpuSeconds()
				for b.Loop() {
					if form == "bf16" {
						pb2 = PackBF16T(pb2, nil, a, out, k, 9, th)
						SgemmBF16(n, img2, off2, pb2, c, out, th)
						continue
					}
					if form == "rows" {
						SgemmRows(out, n, k, a, k, img, off, c, n, th)
						continue
					}
					SgemmOffA(n, img, off, PackBT(a, k, k, out), c, out, th)
				}
				flops := 2 * float64(out) * float64(n) * float64(k) * float64(b.N)
				b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOPS")
				if cpu := cpuSeconds() - cpu0; cpu > 0 {
					b.ReportMetric(flops/cpu/1e9, "GFLOPS/cpu-s")
				}
			})
		}
	}
}
