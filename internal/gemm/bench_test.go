package gemm

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// benchShapes are the engine's products (see the package doc).
var benchShapes = []struct {
	name    string
	m, n, k int
	kind    string // "nn": Sgemm, "nt": SgemmNT, "packed": SgemmPacked, "halfA": SgemmHalfA
}{
	{"conv320_64x64", 320, 4096, 2880, "nn"},
	{"conv1280_8x8", 1280, 64, 11520, "nn"},
	{"vae128_256x256", 128, 65536, 1152, "nn"},
	// The same convolutions transposed: out[P,O] = patches[P,K]·Wᵀ with
	// W packed once, so no operand is packed per call.
	{"conv320_64x64_T_packed", 4096, 320, 2880, "packed"},
	{"conv1280_8x8_T_packed", 64, 1280, 11520, "packed"},
	{"vae128_256x256_T_packed", 65536, 128, 1152, "packed"},
	// The U-Net's small-image convolutions at 256 px, both images of a
	// guided batch in one product, float16 weights as stored.
	{"conv640_16x16_b2_halfA", 640, 512, 5760, "halfA"},
	{"conv1280_8x8_b2_halfA", 1280, 128, 11520, "halfA"},
	{"conv1280_4x4_b2_halfA", 1280, 32, 11520, "halfA"},
	{"linear4096x320x320", 4096, 320, 320, "nn"},
	{"linear4096x320x320_packed", 4096, 320, 320, "packed"},
	{"geglu4096x2560x320_packed", 4096, 2560, 320, "packed"},
	{"attnQK4096x4096x40_nt", 4096, 4096, 40, "nt"},
	{"attnPV4096x40x4096", 4096, 40, 4096, "nn"},
	{"attnPV4096x80x4096", 4096, 80, 4096, "nn"},
}

// BenchmarkSgemm reports GFLOPS (2mnk per product, wall time) and
// GFLOPS/cpu-s (per CPU-second, robust against a busy machine) for the
// kernel set in use (IMGGEN_GEMM=avx512|avx2|go picks one) on 1 and 2
// threads.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			// Set up only the shapes that -bench selects.
			r := rand.New(rand.NewPCG(1, 1))
			fill := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = r.Float32() - 0.5
				}
				return x
			}
			a := fill(s.m * s.k)
			bm := fill(s.k * s.n) // B[k,n], or Bᵀ[n,k] for "nt" and "packed"
			c := make([]float32, s.m*s.n)
			var pb *PackedB
			if s.kind == "packed" {
				pb = PackBT(bm, s.k, s.k, s.n)
			}
			// Float16 weights come from memory in a network (each is used
			// once per call), so the product cycles through copies that
			// together outgrow the caches.
			var a16s [][]uint16
			if s.kind == "halfA" {
				for range max(1, (256<<20)/(2*s.m*s.k)) {
					a16, _ := randHalf(r, s.m*s.k)
					for i := range a16 {
						a16[i] &^= 0x4000 // |x| < 2: no overflow in long sums
					}
					a16s = append(a16s, a16)
				}
			}
			for _, th := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/t%d", CurrentImpl(), th), func(b *testing.B) {
					cpu0 := cpuSeconds()
					for i := 0; b.Loop(); i++ {
						switch s.kind {
						case "nt":
							SgemmNT(s.m, s.n, s.k, a, s.k, bm, s.k, c, s.n, th)
						case "packed":
							SgemmPacked(s.m, a, s.k, pb, c, s.n, th)
						case "halfA":
							SgemmHalfA(s.m, s.n, s.k, a16s[i%len(a16s)], s.k, bm, s.n, c, s.n, th)
						default:
							Sgemm(s.m, s.n, s.k, a, s.k, bm, s.n, c, s.n, th)
						}
					}
					flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
					b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOPS")
					if cpu := cpuSeconds() - cpu0; cpu > 0 {
						b.ReportMetric(flops/cpu/1e9, "GFLOPS/cpu-s")
					}
				})
			}
		})
	}
}

// GEMM_BLOCK=kc,mc,nc overrides the block sizes for tuning runs.
func init() {
	if v := os.Getenv("GEMM_BLOCK"); v != "" {
		var kc, mc, nc int
		if _, err := fmt.Sscanf(v, "%d,%d,%d", &kc, &mc, &nc); err != nil {
			panic(err)
		}
		setBlocking(&blocking{kc, mc, nc})
	}
}

// BenchmarkRepackBTHalf widens and packs a float16 weight matrix (the
// 1280-to-5120 feed-forward projection, W[5120, 1280] as Bᵀ), what every
// call of a float16 linear layer does before its product.
func BenchmarkRepackBTHalf(b *testing.B) {
	const k, n = 1280, 5120
	bt, _ := randHalf(rand.New(rand.NewPCG(3, 4)), n*k)
	var pb *PackedB
	b.SetBytes(int64(2 * n * k))
	for b.Loop() {
		pb = RepackBTHalf(pb, bt, k, k, n, 1)
	}
}
