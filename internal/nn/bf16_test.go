package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// withPrecision runs f with the layers at precision p.
func withPrecision(p Precision, f func()) {
	prev := CurrentPrecision()
	SetPrecision(p)
	defer SetPrecision(prev)
	f()
}

// bf16Conv is the bfloat16 convolution from its definition: per output,
// one gemm.DotBF16 chain over the pairs (channels 2cp and 2cp+1 at tap t,
// for cp, then t, in increasing order; zero outside the image and past
// the last channel), then the bias.
func bf16ConvDefinition(c *Conv2d, x *tensor.Tensor) *tensor.Tensor {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	y := tensor.New(n, c.Out, h, w)
	at := func(b, ch, iy, ix int) float32 {
		if ch >= c.In || iy < 0 || iy >= h || ix < 0 || ix >= w {
			return 0
		}
		return x.Data[((b*c.In+ch)*h+iy)*w+ix]
	}
	wt := func(o, ch, tap int) float32 {
		if ch >= c.In {
			return 0
		}
		return c.w.F32[(o*c.In+ch)*c.K*c.K+tap]
	}
	pad := c.K / 2
	for b := 0; b < n; b++ {
		for o := 0; o < c.Out; o++ {
			for oy := 0; oy < h; oy++ {
				for ox := 0; ox < w; ox++ {
					var acc float32
					for cp := 0; cp < (c.In+1)/2; cp++ {
						for tap := 0; tap < c.K*c.K; tap++ {
							iy, ix := oy+tap/c.K-pad, ox+tap%c.K-pad
							a := gemm.PairBF16(at(b, 2*cp, iy, ix), at(b, 2*cp+1, iy, ix))
							acc = gemm.DotBF16(acc, a, gemm.PairBF16(wt(o, 2*cp, tap), wt(o, 2*cp+1, tap)))
						}
					}
					y.Data[((b*c.Out+o)*h+oy)*w+ox] = acc + c.b[o]
				}
			}
		}
	}
	return y
}

// TestConvBF16 checks the bfloat16 convolutions bit for bit against their
// definition for any thread count, through Forward, NormConv and
// UpsampleConv, and within bfloat16's error of the float32 result.
func TestConvBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 16))
	for _, tc := range []struct {
		name             string
		in, out, k, h, w int
		limit            int // im2col cap, to force row bands
		minShifted       int // narrowest image for the padded-image form
	}{
		{"3x3 patches", 5, 7, 3, 9, 11, 1 << 20, 32},
		{"3x3 padded", 5, 7, 3, 9, 11, 1 << 20, 1},
		{"3x3 padded banded", 6, 17, 3, 9, 11, 17 * 13 * 2, 1},
		{"3x3 wide", 4, 33, 3, 5, 40, 1 << 20, 32},
		{"1x1", 7, 35, 1, 6, 7, 1 << 20, 32},
		{"1x1 banded", 8, 20, 1, 6, 7, 20 * 7 * 2, 32},
	} {
		c := &Conv2d{In: tc.in, Out: tc.out, K: tc.k, Stride: 1, PadT: tc.k / 2, PadL: tc.k / 2, PadB: tc.k / 2, PadR: tc.k / 2,
			w: weights.Matrix{Rows: tc.out, Cols: tc.in * tc.k * tc.k, F32: randSlice(r, tc.out*tc.in*tc.k*tc.k)},
			b: randSlice(r, tc.out)}
		x := tensor.From(randSlice(r, 2*tc.in*tc.h*tc.w), 2, tc.in, tc.h, tc.w)
		want := bf16ConvDefinition(c, x)
		exact := naiveConv(c, x)
		prevLimit, prevMin := maxIm2colFloats, shiftedMinWidth
		maxIm2colFloats, shiftedMinWidth = tc.limit, tc.minShifted
		for _, threads := range []int{1, 2, 3} {
			SetThreads(threads)
			restore := SplitAllWork()
			poisonScratch()
			var got *tensor.Tensor
			withPrecision(BFloat16, func() { got = c.Forward(x) })
			restore()
			sameBits(t, tc.name, got.Data, want.Data)
		}
		// Packs kept for a stage: made once, then reused, the same bits.
		release := HoldBF16Packs()
		for range 2 {
			var got *tensor.Tensor
			withPrecision(BFloat16, func() { got = c.Forward(x) })
			sameBits(t, tc.name+" (kept packs)", got.Data, want.Data)
		}
		release()
		maxIm2colFloats, shiftedMinWidth = prevLimit, prevMin
		SetThreads(2)
		// Each operand rounded to 8 significant bits: relative error of a
		// product about 2^-8, of a sum of many about that over sqrt(n).
		var worst float64
		for i, v := range want.Data {
			worst = max(worst, math.Abs(float64(v-exact.Data[i])))
		}
		if bound := 0.05 * math.Sqrt(float64(tc.in*tc.k*tc.k)); worst > bound {
			t.Errorf("%s: bfloat16 differs from float64 by %.3g, want <= %.3g", tc.name, worst, bound)
		}
		if tc.k != 3 {
			continue
		}
		checkFusedLayers(t, r, tc.name, c, x, BFloat16)
	}
}

// checkFusedLayers: at precision p, NormConv and UpsampleConv give the bits
// of their layers run one after the other.
func checkFusedLayers(t *testing.T, r *rand.Rand, name string, c *Conv2d, x *tensor.Tensor, p Precision) {
	t.Helper()
	h, w := x.Shape[2], x.Shape[3]
	norm := &GroupNorm{Groups: 1, Channels: c.In, Eps: 1e-5, gamma: randSlice(r, c.In), beta: randSlice(r, c.In)}
	var fused, split, up, upSplit *tensor.Tensor
	withPrecision(p, func() {
		fused = NormConv(norm, c, x)
		split = c.Forward(norm.Forward(x, true))
		up = UpsampleConv(c, x, 2*h, 2*w)
		upSplit = c.Forward(UpsampleNearest(x, 2*h, 2*w))
	})
	sameBits(t, name+" NormConv", fused.Data, split.Data)
	sameBits(t, name+" UpsampleConv", up.Data, upSplit.Data)
}

// TestLinearBF16 checks the bfloat16 linear layer bit for bit against its
// definition (pairs of adjacent inputs) for any thread count.
func TestLinearBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 16))
	for _, tc := range []struct{ rows, in, out int }{{1, 4, 3}, {13, 7, 40}, {77, 33, 65}, {40, 64, 20}} {
		lin := &Linear{In: tc.in, Out: tc.out, w: weights.Matrix{Rows: tc.out, Cols: tc.in, F32: randSlice(r, tc.out*tc.in)}, b: randSlice(r, tc.out)}
		x := tensor.From(randSlice(r, tc.rows*tc.in), tc.rows, tc.in)
		want := make([]float32, tc.rows*tc.out)
		for i := 0; i < tc.rows; i++ {
			for o := 0; o < tc.out; o++ {
				var acc float32
				for q := 0; 2*q < tc.in; q++ {
					var xh, wh float32
					if 2*q+1 < tc.in {
						xh, wh = x.Data[i*tc.in+2*q+1], lin.w.F32[o*tc.in+2*q+1]
					}
					acc = gemm.DotBF16(acc, gemm.PairBF16(x.Data[i*tc.in+2*q], xh), gemm.PairBF16(lin.w.F32[o*tc.in+2*q], wh))
				}
				want[i*tc.out+o] = acc + lin.b[o]
			}
		}
		for _, threads := range []int{1, 2, 3} {
			SetThreads(threads)
			restore := SplitAllWork()
			var got *tensor.Tensor
			withPrecision(BFloat16, func() { got = lin.Forward(x) })
			restore()
			sameBits(t, "linear", got.Data, want)
		}
		SetThreads(2)
	}
}

// sameBits fails t unless got and want hold the same float32 bits.
func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d = %v, want %v", name, i, got[i], want[i])
		}
	}
}

func TestParsePrecision(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Precision
		ok   bool
	}{{"fp32", Float32, true}, {"bf16", BFloat16, true}, {"bfloat16", BFloat16, true}, {"fp32-winograd", FP32Winograd, true}, {"fp16", Float32, false}, {"", Float32, false}} {
		got, err := ParsePrecision(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("ParsePrecision(%q) = %v, %v", tc.in, got, err)
		}
	}
}

// poisonScratch puts scratch buffers full of NaN bits into the pools, one
// of every size class up to 1<<18 elements, so that a word a layer reads
// without writing it (a padded border) shows. The pools hand out the
// buffer put last, so the next request of each class gets poison.
func poisonScratch() {
	var words []*[]uint32
	var floats []*[]float32
	for n := 1; n <= 1<<18; {
		_, size := sizeClass(n)
		w, f := getWords(size), getFloats(size)
		for i := range *w {
			(*w)[i] = 0xffffffff
			(*f)[i] = float32(math.NaN())
		}
		words, floats = append(words, w), append(floats, f)
		n = size + 1
	}
	for i := range words {
		putWords(words[i])
		putFloats(floats[i])
	}
}

// TestUsePrecision: holders of one precision share it; a caller asking
// for another gets it only once they are done; without holders it is
// Float32 again.
func TestUsePrecision(t *testing.T) {
	a, b := UsePrecision(Float32), UsePrecision(Float32)
	got := make(chan Precision)
	go func() {
		release := UsePrecision(BFloat16)
		got <- CurrentPrecision()
		release()
		got <- CurrentPrecision()
	}()
	a()
	select {
	case p := <-got:
		t.Fatalf("bf16 granted (%v) while a float32 holder remains", p)
	default:
	}
	if CurrentPrecision() != Float32 {
		t.Fatalf("precision %v while float32 is held", CurrentPrecision())
	}
	b()
	if p := <-got; p != BFloat16 {
		t.Errorf("granted precision %v, want bf16", p)
	}
	if p := <-got; p != Float32 {
		t.Errorf("precision %v after the last holder, want fp32", p)
	}
}
