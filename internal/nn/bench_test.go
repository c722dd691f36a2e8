package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// Layer benchmarks at Stable Diffusion 1.5's shapes (512 px, latents
// 64x64). Each reports GFLOPS (multiply-add = 2) where the work is a
// product; compare runs with benchstat.

func benchConv(b *testing.B, in, out, hw int) {
	r := rand.New(rand.NewPCG(1, 1))
	c := &Conv2d{In: in, Out: out, K: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
		w: weights.Matrix{Rows: out, Cols: in * 9, F32: randSlice(r, out*in*9)}, b: randSlice(r, out)}
	x := tensor.From(randSlice(r, in*hw*hw), 1, in, hw, hw)
	for _, p := range []Precision{Float32, FP32Winograd} {
		b.Run(p.String(), func(b *testing.B) {
			withPrecision(p, func() {
				for b.Loop() {
					c.Forward(x)
				}
			})
			b.ReportMetric(2*float64(out*in*9*hw*hw)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

func BenchmarkConv3x3_320_64x64(b *testing.B)   { benchConv(b, 320, 320, 64) }
func BenchmarkConv3x3_1280_8x8(b *testing.B)    { benchConv(b, 1280, 1280, 8) }
func BenchmarkConv3x3_128_256x256(b *testing.B) { benchConv(b, 128, 128, 256) }
func BenchmarkConv3x3_256_256x256(b *testing.B) { benchConv(b, 256, 256, 256) }

// The VAE decoder's top two levels at 512 px.
func BenchmarkConv3x3_128_512x512(b *testing.B) { benchConv(b, 128, 128, 512) }
func BenchmarkConv3x3_512_128x128(b *testing.B) { benchConv(b, 512, 512, 128) }

func benchAttention(b *testing.B, lq, lk, dim, heads int) {
	r := rand.New(rand.NewPCG(2, 2))
	q, k, v := randSlice(r, lq*dim), randSlice(r, lk*dim), randSlice(r, lk*dim)
	for b.Loop() {
		Attention(q, k, v, lq, lk, dim, heads, 0.15, false)
	}
	b.ReportMetric(4*float64(lq*lk*dim)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

// Self-attention at the top level of the U-Net (8 heads of 40) and
// cross-attention of the second level against the 77 text tokens.
func BenchmarkAttention4096x4096_8x40(b *testing.B) { benchAttention(b, 4096, 4096, 320, 8) }
func BenchmarkAttention1024x77_8x80(b *testing.B)   { benchAttention(b, 1024, 77, 640, 8) }

func BenchmarkGroupNormSiLU_320_64x64(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	g := &GroupNorm{Groups: 32, Channels: 320, Eps: 1e-5, gamma: randSlice(r, 320), beta: randSlice(r, 320)}
	x := tensor.From(randSlice(r, 2*320*64*64), 2, 320, 64, 64)
	b.SetBytes(int64(4 * x.Numel()))
	for b.Loop() {
		g.Forward(x, true)
	}
}

func BenchmarkLinear4096_320x1280(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	lin := &Linear{In: 320, Out: 1280, w: weights.Matrix{Rows: 1280, Cols: 320, F32: randSlice(r, 1280*320)}, b: randSlice(r, 1280)}
	x := tensor.From(randSlice(r, 4096*320), 4096, 320)
	for b.Loop() {
		lin.Forward(x)
	}
	b.ReportMetric(2*float64(4096*320*1280)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

// benchNormConv runs GroupNorm+SiLU then a 3x3 convolution on a batch of
// 2, as two layers (split) or through NormConv (fused).
func benchNormConv(b *testing.B, ch, hw int) {
	r := rand.New(rand.NewPCG(5, 5))
	c := &Conv2d{In: ch, Out: ch, K: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
		w: weights.Matrix{Rows: ch, Cols: ch * 9, F32: randSlice(r, ch*ch*9)}, b: randSlice(r, ch)}
	g := &GroupNorm{Groups: 32, Channels: ch, Eps: 1e-5, gamma: randSlice(r, ch), beta: randSlice(r, ch)}
	x := tensor.From(randSlice(r, 2*ch*hw*hw), 2, ch, hw, hw)
	for _, fused := range []bool{false, true} {
		name := "split"
		if fused {
			name = "fused"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if fused {
					NormConv(g, c, x)
				} else {
					c.Forward(g.Forward(x, true))
				}
			}
			b.ReportMetric(2*2*float64(ch*ch*9*hw*hw)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

func BenchmarkNormConv_320_64x64(b *testing.B)   { benchNormConv(b, 320, 64) }
func BenchmarkNormConv_128_256x256(b *testing.B) { benchNormConv(b, 128, 256) }

// benchConvHalf runs a 3x3 convolution with float16 weights (as a
// float16 checkpoint stores them) on a batch of 2, cycling through enough
// copies of the layer that the weights come from memory, as in a network.
func benchConvHalf(b *testing.B, in, out, hw int) {
	r := rand.New(rand.NewPCG(6, 6))
	layers := make([]*Conv2d, max(1, (256<<20)/(2*out*in*9)))
	for i := range layers {
		h := make([]uint16, out*in*9)
		for j := range h {
			h[j] = uint16(r.IntN(2))<<15 | uint16(10+r.IntN(6))<<10 | uint16(r.IntN(1024))
		}
		layers[i] = &Conv2d{In: in, Out: out, K: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
			w: weights.Matrix{Rows: out, Cols: in * 9, F16: h}, b: randSlice(r, out)}
	}
	x := tensor.From(randSlice(r, 2*in*hw*hw), 2, in, hw, hw)
	// fp32, and bf16 with the packs kept as a pipeline stage keeps them.
	for _, p := range []Precision{Float32, BFloat16, FP32Winograd} {
		b.Run(p.String(), func(b *testing.B) {
			defer HoldBF16Packs()()
			withPrecision(p, func() {
				for _, c := range layers {
					c.Forward(x)
				}
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					layers[i%len(layers)].Forward(x)
				}
			})
			b.ReportMetric(2*2*float64(out*in*9*hw*hw)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// The U-Net's small-image levels at 256 px (latents 32x32), and its top
// level at 512 px.
func BenchmarkConvHalf_640_16x16(b *testing.B) { benchConvHalf(b, 640, 640, 16) }
func BenchmarkConvHalf_1280_8x8(b *testing.B)  { benchConvHalf(b, 1280, 1280, 8) }
func BenchmarkConvHalf_1280_4x4(b *testing.B)  { benchConvHalf(b, 1280, 1280, 4) }
func BenchmarkConvHalf_320_64x64(b *testing.B) { benchConvHalf(b, 320, 320, 64) }
func BenchmarkConvHalf_640_32x32(b *testing.B) { benchConvHalf(b, 640, 640, 32) }
func BenchmarkConvHalf_320_32x32(b *testing.B) { benchConvHalf(b, 320, 320, 32) }

// benchLinearHalf runs a linear layer with float16 weights on rows
// tokens, cycling through copies of the layer so that the weights come
// from memory.
func benchLinearHalf(b *testing.B, rows, in, out int) {
	r := rand.New(rand.NewPCG(7, 7))
	layers := make([]*Linear, max(1, (256<<20)/(2*out*in)))
	for i := range layers {
		h := make([]uint16, out*in)
		for j := range h {
			h[j] = uint16(r.IntN(2))<<15 | uint16(10+r.IntN(6))<<10 | uint16(r.IntN(1024))
		}
		layers[i] = &Linear{In: in, Out: out, w: weights.Matrix{Rows: out, Cols: in, F16: h}, b: randSlice(r, out)}
	}
	x := tensor.From(randSlice(r, rows*in), rows, in)
	for _, l := range layers {
		l.Forward(x)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		layers[i%len(layers)].Forward(x)
	}
	b.ReportMetric(2*float64(rows*in*out)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
}

// Self-attention and feed-forward layers of a guided batch at the U-Net's
// 64x64, 16x16 and 8x8 levels (512 px), and a cross-attention key layer.
func BenchmarkLinearHalf_8192_320x320(b *testing.B)   { benchLinearHalf(b, 8192, 320, 320) }
func BenchmarkLinearHalf_8192_320x2560(b *testing.B)  { benchLinearHalf(b, 8192, 320, 2560) }
func BenchmarkLinearHalf_512_1280x10240(b *testing.B) { benchLinearHalf(b, 512, 1280, 10240) }
func BenchmarkLinearHalf_128_5120x1280(b *testing.B)  { benchLinearHalf(b, 128, 5120, 1280) }
func BenchmarkLinearHalf_154_768x1280(b *testing.B)   { benchLinearHalf(b, 154, 768, 1280) }

// benchTransposeBias moves a 3x3 convolution's pixels-first product (on
// its grid two columns wider than the image) back to channels first.
func benchTransposeBias(b *testing.B, ch, hw int) {
	r := rand.New(rand.NewPCG(8, 8))
	pw := hw + 2
	wide := randSlice(r, hw*pw*ch)
	bias := randSlice(r, ch)
	out := make([]float32, ch*hw*hw)
	b.SetBytes(int64(4 * len(out)))
	for b.Loop() {
		transposeBias(out, wide, bias, hw*hw, 0, hw, hw, pw, ch)
	}
}

func BenchmarkTransposeBias_320_64x64(b *testing.B)   { benchTransposeBias(b, 320, 64) }
func BenchmarkTransposeBias_128_256x256(b *testing.B) { benchTransposeBias(b, 128, 256) }
