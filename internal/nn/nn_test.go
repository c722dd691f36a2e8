package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// naiveConv is the textbook definition, summed in float64.
func naiveConv(c *Conv2d, x *tensor.Tensor) *tensor.Tensor {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	oh, ow := c.OutSize(h, w)
	y := tensor.New(n, c.Out, oh, ow)
	for b := 0; b < n; b++ {
		for o := 0; o < c.Out; o++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					s := float64(c.b[o])
					for i := 0; i < c.In; i++ {
						for ky := 0; ky < c.K; ky++ {
							for kx := 0; kx < c.K; kx++ {
								iy, ix := oy*c.Stride+ky-c.PadT, ox*c.Stride+kx-c.PadL
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								s += float64(c.w.F32[((o*c.In+i)*c.K+ky)*c.K+kx]) * float64(x.Data[((b*c.In+i)*h+iy)*w+ix])
							}
						}
					}
					y.Data[((b*c.Out+o)*oh+oy)*ow+ox] = float32(s)
				}
			}
		}
	}
	return y
}

func TestConv2dMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name                         string
		in, out, k, stride           int
		padT, padL, padB, padR, h, w int
		limit                        int // im2col cap, to force row bands
		minShifted                   int // narrowest image for the shifted-rows path
	}{
		{"3x3 same", 5, 7, 3, 1, 1, 1, 1, 1, 9, 11, 1 << 20, 1},
		{"3x3 same banded", 5, 7, 3, 1, 1, 1, 1, 1, 9, 11, 7 * 13 * 2, 1},
		{"3x3 same one-row bands", 5, 7, 3, 1, 1, 1, 1, 1, 9, 11, 1, 1},
		{"3x3 pad 0 (im2col path)", 5, 7, 3, 1, 0, 0, 0, 0, 9, 11, 1 << 20, 1},
		{"3x3 same, im2col path", 5, 7, 3, 1, 1, 1, 1, 1, 9, 11, 1 << 20, 1 << 20},
		{"3x3 stride 2", 4, 6, 3, 2, 1, 1, 1, 1, 7, 10, 1 << 20, 1},
		{"vae downsample pad 0,1", 4, 3, 3, 2, 0, 0, 1, 1, 8, 12, 1 << 20, 1},
		{"vae downsample banded", 4, 3, 3, 2, 0, 0, 1, 1, 8, 12, 4 * 9 * 6, 1},
		{"1x1", 6, 3, 1, 1, 0, 0, 0, 0, 5, 4, 1 << 20, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func(v, w int) { maxIm2colFloats, shiftedMinWidth = v, w }(maxIm2colFloats, shiftedMinWidth)
			maxIm2colFloats = tc.limit
			shiftedMinWidth = tc.minShifted
			c := &Conv2d{In: tc.in, Out: tc.out, K: tc.k, Stride: tc.stride, PadT: tc.padT, PadL: tc.padL, PadB: tc.padB, PadR: tc.padR,
				w: weights.Matrix{Rows: tc.out, Cols: tc.in * tc.k * tc.k, F32: randSlice(r, tc.out*tc.in*tc.k*tc.k)}, b: randSlice(r, tc.out)}
			x := tensor.From(randSlice(r, 2*tc.in*tc.h*tc.w), 2, tc.in, tc.h, tc.w)
			got, want := c.Forward(x), naiveConv(c, x)
			if !tensor.SameShape(got.Shape, want.Shape) {
				t.Fatalf("shape %v, want %v", got.Shape, want.Shape)
			}
			for i := range got.Data {
				if d := math.Abs(float64(got.Data[i] - want.Data[i])); !(d <= 1e-4) { // NaN fails too
					t.Fatalf("element %d: %g, want %g", i, got.Data[i], want.Data[i])
				}
			}
		})
	}
}

// TestLayersSameBitsAnyThreads checks the promise golden-image users rely
// on: the thread count never changes a result, on every path of the
// convolution and the linear layer, with float32 and float16 weights.
func TestLayersSameBitsAnyThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	defer SetThreads(Threads())
	defer func(v, w int) { maxIm2colFloats, shiftedMinWidth = v, w }(maxIm2colFloats, shiftedMinWidth)
	halves := func(n int) []uint16 { return randHalves(r, n) }
	conv := func(in, out, k, pad int, f16 bool) *Conv2d {
		c := &Conv2d{In: in, Out: out, K: k, Stride: 1, PadT: pad, PadL: pad, PadB: pad, PadR: pad, b: randSlice(r, out)}
		c.w = weights.Matrix{Rows: out, Cols: in * k * k}
		if f16 {
			c.w.F16 = halves(out * in * k * k)
		} else {
			c.w.F32 = randSlice(r, out*in*k*k)
		}
		return c
	}
	tests := []struct {
		name       string
		conv       *Conv2d
		lin        *Linear
		h, w       int
		limit      int // im2col cap
		minShifted int
	}{
		{name: "1x1", conv: conv(24, 40, 1, 0, false), h: 9, w: 11, limit: 1 << 20, minShifted: 1 << 20},
		{name: "1x1 f16", conv: conv(24, 40, 1, 0, true), h: 9, w: 11, limit: 1 << 20, minShifted: 1 << 20},
		{name: "3x3 shifted", conv: conv(20, 37, 3, 1, false), h: 9, w: 11, limit: 1 << 20, minShifted: 1},
		{name: "3x3 shifted f16", conv: conv(20, 37, 3, 1, true), h: 9, w: 11, limit: 1 << 20, minShifted: 1},
		{name: "3x3 im2col batched f16", conv: conv(20, 37, 3, 1, true), h: 9, w: 11, limit: 1 << 20, minShifted: 1 << 20},
		{name: "3x3 im2col banded f16", conv: conv(20, 37, 3, 1, true), h: 9, w: 11, limit: 20 * 9 * 11 * 3, minShifted: 1 << 20},
		{name: "linear", lin: &Linear{In: 70, Out: 50, w: weights.Matrix{Rows: 50, Cols: 70, F32: randSlice(r, 50*70)}, b: randSlice(r, 50)}, h: 200},
		{name: "linear f16", lin: &Linear{In: 70, Out: 50, w: weights.Matrix{Rows: 50, Cols: 70, F16: halves(50 * 70)}}, h: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			maxIm2colFloats, shiftedMinWidth = tc.limit, tc.minShifted
			var x *tensor.Tensor
			if tc.conv != nil {
				x = tensor.From(randSlice(r, 2*tc.conv.In*tc.h*tc.w), 2, tc.conv.In, tc.h, tc.w)
			} else {
				x = tensor.From(randSlice(r, tc.h*tc.lin.In), tc.h, tc.lin.In)
			}
			var ref *tensor.Tensor
			for _, th := range []int{1, 2, 3, 8} {
				SetThreads(th)
				var y *tensor.Tensor
				if tc.conv != nil {
					y = tc.conv.Forward(x)
				} else {
					y = tc.lin.Forward(x)
				}
				if ref == nil {
					ref = y
					continue
				}
				for i := range y.Data {
					if math.Float32bits(y.Data[i]) != math.Float32bits(ref.Data[i]) {
						t.Fatalf("%d threads: element %d is %g, %g on 1 thread", th, i, y.Data[i], ref.Data[i])
					}
				}
			}
		})
	}
}

func TestAttentionMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, causal := range []bool{false, true} {
		lq, lk, dim, heads := 300, 77, 16, 2
		if causal {
			lk = lq
		}
		q, k, v := randSlice(r, lq*dim), randSlice(r, lk*dim), randSlice(r, lk*dim)
		poisonScratch() // the score buffer is pooled
		got := Attention(q, k, v, lq, lk, dim, heads, 0.3, causal)
		into := make([]float32, lq*dim)
		for i := range into {
			into[i] = float32(math.NaN())
		}
		AttentionInto(into, q, k, v, lq, lk, dim, heads, 0.3, causal)
		sameTensor(t, "AttentionInto", tensor.From(into, lq, dim), tensor.From(got, lq, dim))
		d := dim / heads
		for h := 0; h < heads; h++ {
			for i := 0; i < lq; i++ {
				n := lk
				if causal {
					n = i + 1
				}
				s := make([]float64, n)
				mx := math.Inf(-1)
				for j := range s {
					for e := 0; e < d; e++ {
						s[j] += float64(q[i*dim+h*d+e]) * float64(k[j*dim+h*d+e])
					}
					s[j] *= 0.3
					mx = math.Max(mx, s[j])
				}
				var sum float64
				for j := range s {
					s[j] = math.Exp(s[j] - mx)
					sum += s[j]
				}
				for e := 0; e < d; e++ {
					var o float64
					for j := range s {
						o += s[j] / sum * float64(v[j*dim+h*d+e])
					}
					if diff := math.Abs(o - float64(got[i*dim+h*d+e])); !(diff <= 1e-5) {
						t.Fatalf("causal=%v head %d row %d: %g, want %g", causal, h, i, got[i*dim+h*d+e], o)
					}
				}
			}
		}
	}
}

func TestUpsampleNearestToSkipSize(t *testing.T) {
	// 2 -> 3 picks 0, 0, 1 (README convention 8).
	x := tensor.From([]float32{10, 20}, 1, 1, 1, 2)
	y := UpsampleNearest(x, 1, 3)
	want := []float32{10, 10, 20}
	for i, v := range want {
		if y.Data[i] != v {
			t.Fatalf("got %v, want %v", y.Data, want)
		}
	}
}

// TestShiftedConvSameBitsAsIm2col: the shifted-rows 3x3 convolution sums
// the same products in the same order as the im2col one.
func TestShiftedConvSameBitsAsIm2col(t *testing.T) {
	defer func(w int) { shiftedMinWidth = w }(shiftedMinWidth)
	r := rand.New(rand.NewPCG(7, 8))
	c := &Conv2d{In: 33, Out: 20, K: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
		w: weights.Matrix{Rows: 20, Cols: 33 * 9, F32: randSlice(r, 20*33*9)}, b: randSlice(r, 20)}
	x := tensor.From(randSlice(r, 2*33*17*40), 2, 33, 17, 40)
	shiftedMinWidth = 1
	poisonScratch() // the padded image's border must be cleared
	shifted := c.Forward(x)
	shiftedMinWidth = 1 << 30
	im2col := c.Forward(x)
	for i := range im2col.Data {
		if math.Float32bits(shifted.Data[i]) != math.Float32bits(im2col.Data[i]) {
			t.Fatalf("element %d: shifted %g, im2col %g", i, shifted.Data[i], im2col.Data[i])
		}
	}
}

// TestNormConvSameBits: GroupNorm+SiLU written straight into the padded
// image of a 3x3 convolution gives the bits of the two layers run one
// after the other, for widths that are and are not a multiple of the
// vector width, on the shifted and the fallback paths, on any thread
// count.
func TestNormConvSameBits(t *testing.T) {
	defer SetThreads(Threads())
	defer func(w int) { shiftedMinWidth = w }(shiftedMinWidth)
	r := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct {
		name       string
		in, out    int
		h, w       int
		minShifted int
		f16        bool
	}{
		{"shifted", 32, 20, 9, 16, 1, false},
		{"shifted odd width", 64, 40, 7, 13, 1, true},
		{"shifted wide", 32, 64, 5, 40, 1, false},
		{"fallback", 32, 20, 9, 16, 1 << 20, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shiftedMinWidth = tc.minShifted
			c := &Conv2d{In: tc.in, Out: tc.out, K: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
				w: weights.Matrix{Rows: tc.out, Cols: tc.in * 9}, b: randSlice(r, tc.out)}
			if tc.f16 {
				c.w.F16 = make([]uint16, tc.out*tc.in*9)
				for i := range c.w.F16 {
					c.w.F16[i] = uint16(r.IntN(2))<<15 | uint16(10+r.IntN(6))<<10 | uint16(r.IntN(1024))
				}
			} else {
				c.w.F32 = randSlice(r, tc.out*tc.in*9)
			}
			g := &GroupNorm{Groups: 8, Channels: tc.in, Eps: 1e-5, gamma: randSlice(r, tc.in), beta: randSlice(r, tc.in)}
			x := tensor.From(randSlice(r, 2*tc.in*tc.h*tc.w), 2, tc.in, tc.h, tc.w)
			SetThreads(1)
			shiftedMinWidth = 1 << 30 // want from im2col, which uses no padded scratch
			want := c.Forward(g.Forward(x, true))
			shiftedMinWidth = tc.minShifted
			for _, th := range []int{1, 2, 3} {
				SetThreads(th)
				poisonScratch()
				got := NormConv(g, c, x)
				for i := range want.Data {
					if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
						t.Fatalf("%d threads: element %d is %g, want %g", th, i, got.Data[i], want.Data[i])
					}
				}
				poisonScratch()
				scratch, release := NormConvScratch(g, c, x)
				sameTensor(t, fmt.Sprintf("NormConvScratch, %d threads", th), scratch, want)
				release()
			}
		})
	}
}

// TestUpsampleConvSameBits: the resized image written straight into the
// padded image of a 3x3 convolution gives the bits of UpsampleNearest then
// the convolution, for doubling and for the odd sizes a U-Net meets at its
// skip connections, on the shifted and the fallback paths, any threads.
func TestUpsampleConvSameBits(t *testing.T) {
	defer SetThreads(Threads())
	defer func(w int) { shiftedMinWidth = w }(shiftedMinWidth)
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct {
		name         string
		h, w, oh, ow int
		minShifted   int
	}{
		{"double", 5, 8, 10, 16, 1},
		{"odd skip size", 5, 7, 9, 13, 1},
		{"fallback", 5, 8, 10, 16, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shiftedMinWidth = tc.minShifted
			c := &Conv2d{In: 24, Out: 40, K: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
				w: weights.Matrix{Rows: 40, Cols: 24 * 9, F32: randSlice(r, 40*24*9)}, b: randSlice(r, 40)}
			x := tensor.From(randSlice(r, 2*24*tc.h*tc.w), 2, 24, tc.h, tc.w)
			SetThreads(1)
			shiftedMinWidth = 1 << 30 // want from im2col, which uses no padded scratch
			want := c.Forward(UpsampleNearest(x, tc.oh, tc.ow))
			shiftedMinWidth = tc.minShifted
			for _, th := range []int{1, 2, 3} {
				SetThreads(th)
				poisonScratch()
				got := UpsampleConv(c, x, tc.oh, tc.ow)
				for i := range want.Data {
					if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
						t.Fatalf("%d threads: element %d is %g, want %g", th, i, got.Data[i], want.Data[i])
					}
				}
			}
		})
	}
}

func TestSizeClass(t *testing.T) {
	prev := -1
	for _, n := range []int{0, 1, 8, 9, 10, 11, 16, 17, 100, 1000, 4095, 4096, 4097, 1 << 20, 1<<20 + 1, 3 << 30} {
		class, size := sizeClass(n)
		if size < n || (n > 8 && 4*size > 5*n+32) {
			t.Errorf("sizeClass(%d) = %d, %d: not within a quarter above", n, class, size)
		}
		if c2, s2 := sizeClass(size); c2 != class || s2 != size {
			t.Errorf("sizeClass(%d) = %d, %d, but its capacity maps to %d, %d", n, class, size, c2, s2)
		}
		if class < prev || class >= len(floatBufs) {
			t.Errorf("sizeClass(%d) = %d after %d (pools: %d)", n, class, prev, len(floatBufs))
		}
		prev = class
	}
}

// TestForwardGEGLU: the projections and norms in pooled scratch
// (ForwardGEGLU, ForwardAdd, LayerNorm.ForwardScratch) give the bits of the layers they stand for, whatever the
// scratch held.
func TestForwardGEGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const in, inner, rows = 24, 40, 37
	lin := &Linear{In: in, Out: 2 * inner, w: weights.Matrix{Rows: 2 * inner, Cols: in, F32: randSlice(r, 2*inner*in)}, b: randSlice(r, 2*inner)}
	x := tensor.From(randSlice(r, rows*in), 1, rows, in)
	want := GEGLU(lin.Forward(x), inner)
	poisonScratch()
	got, release := lin.ForwardGEGLU(x, inner)
	sameTensor(t, "ForwardGEGLU", got, want)
	release()
	lin.b = nil // a layer without a bias
	want = GEGLU(lin.Forward(x), inner)
	poisonScratch()
	got, release = lin.ForwardGEGLU(x, inner)
	sameTensor(t, "ForwardGEGLU without a bias", got, want)
	release()
	lin.b = randSlice(r, 2*inner)

	ln := &LayerNorm{Dim: in, Eps: 1e-5, gamma: randSlice(r, in), beta: randSlice(r, in)}
	want = ln.Forward(x)
	poisonScratch()
	got, release = ln.ForwardScratch(x)
	sameTensor(t, "LayerNorm.ForwardScratch", got, want)
	release()

	acc := tensor.From(randSlice(r, rows*2*inner), 1, rows, 2*inner)
	want = Add(acc, lin.Forward(x))
	poisonScratch()
	lin.ForwardAdd(acc, x)
	sameTensor(t, "ForwardAdd", acc, want)
}

// TestFeedForwardAdd: the feed-forward with GEGLU in place and the
// second layer reading strided rows gives the bits of the layers run one
// after the other, with and without biases, float32 and float16 weights.
func TestFeedForwardAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const in, inner, rows = 24, 40, 37
	for _, tc := range []struct {
		name         string
		half, biases bool
	}{{"float32", false, true}, {"float16", true, true}, {"no biases", false, false}} {
		mat := func(rows, cols int) weights.Matrix {
			if tc.half {
				return weights.Matrix{Rows: rows, Cols: cols, F16: randHalves(r, rows*cols)}
			}
			return weights.Matrix{Rows: rows, Cols: cols, F32: randSlice(r, rows*cols)}
		}
		ffIn := &Linear{In: in, Out: 2 * inner, w: mat(2*inner, in)}
		ffOut := &Linear{In: inner, Out: in, w: mat(in, inner)}
		if tc.biases {
			ffIn.b, ffOut.b = randSlice(r, 2*inner), randSlice(r, in)
		}
		x := tensor.From(randSlice(r, rows*in), 1, rows, in)
		acc := tensor.From(randSlice(r, rows*in), 1, rows, in)
		want := Add(acc, ffOut.Forward(GEGLU(ffIn.Forward(x), inner)))
		poisonScratch()
		FeedForwardAdd(acc, x, ffIn, ffOut, inner)
		sameTensor(t, "FeedForwardAdd, "+tc.name, acc, want)
	}
}

// TestTokenLayoutConv: a transformer's 1x1 projections computed in the
// token layout give the bits of the convolution and the transpose.
func TestTokenLayoutConv(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const in, out, h, w = 20, 36, 15, 18 // 270 pixels: both go the token way
	for _, half := range []bool{false, true} {
		m := weights.Matrix{Rows: out, Cols: in, F32: randSlice(r, out*in)}
		if half {
			m = weights.Matrix{Rows: out, Cols: in, F16: randHalves(r, out*in)}
		}
		c := &Conv2d{In: in, Out: out, K: 1, Stride: 1, w: m, b: randSlice(r, out)}
		x := tensor.From(randSlice(r, 2*in*h*w), 2, in, h, w)
		sameTensor(t, fmt.Sprintf("ForwardTokens, f16 %v", half), c.ForwardTokens(x), ToTokens(c.Forward(x)))
		back := &Conv2d{In: out, Out: in, K: 1, Stride: 1, w: weights.Matrix{Rows: in, Cols: out, F32: randSlice(r, out*in)}, b: randSlice(r, in)}
		if half {
			back.w = weights.Matrix{Rows: in, Cols: out, F16: randHalves(r, out*in)}
		}
		tok := tensor.From(randSlice(r, 2*h*w*out), 2, h*w, out)
		sameTensor(t, fmt.Sprintf("ForwardFromTokens, f16 %v", half), back.ForwardFromTokens(tok, h, w), back.Forward(FromTokens(tok, h, w)))
	}
}

func sameTensor(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	if !tensor.SameShape(got.Shape, want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	for i := range want.Data {
		if math.Float32bits(got.Data[i]) != math.Float32bits(want.Data[i]) {
			t.Fatalf("%s: element %d = %g, want %g", what, i, got.Data[i], want.Data[i])
		}
	}
}

// randHalves returns n float16 values (as bits): a sign, an exponent for
// magnitudes 2^-5..2, a mantissa.
func randHalves(r *rand.Rand, n int) []uint16 {
	h := make([]uint16, n)
	for i := range h {
		h[i] = uint16(r.IntN(2))<<15 | uint16(10+r.IntN(6))<<10 | uint16(r.IntN(1024))
	}
	return h
}
