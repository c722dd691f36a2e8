package vmath

import (
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// impls are the kernel sets this machine runs.
func impls() []Impl {
	var out []Impl
	for _, im := range []Impl{ImplGo, ImplAVX2, ImplAVX512} {
		if Supported(im) {
			out = append(out, im)
		}
	}
	return out
}

// forEachImpl runs f as a subtest per supported kernel set.
func forEachImpl(t *testing.T, f func(t *testing.T, im Impl)) {
	old := CurrentImpl()
	defer SetImpl(old)
	for _, im := range impls() {
		if err := SetImpl(im); err != nil {
			t.Fatal(err)
		}
		t.Run(im.String(), func(t *testing.T) { f(t, im) })
	}
}

// ulps is |got-want| in units of the float32 spacing at want (2^-149
// below the normal range). An infinite got counts as exact when want
// rounds to it.
func ulps(got float32, want float64) float64 {
	if math.IsNaN(want) || got != got {
		if math.IsNaN(want) && got != got {
			return 0
		}
		return math.Inf(1)
	}
	if math.IsInf(float64(got), 0) || math.IsInf(want, 0) {
		if float64(got) == float64(float32(want)) {
			return 0
		}
		return math.Inf(1)
	}
	a := math.Abs(want)
	u := 0x1p-149
	if a >= 0x1p-126 {
		_, e := math.Frexp(a)
		u = math.Ldexp(1, e-24)
	}
	return math.Abs(float64(got)-want) / u
}

// sweep returns float32 values of [lo, hi] spread over their bit patterns:
// every step-th pattern of each sign, plus special and edge values.
func sweep(lo, hi float32, step uint32) []float32 {
	var v []float32
	for b := uint32(0); b < 0x7f800000; b += step {
		for _, x := range []float32{math.Float32frombits(b), math.Float32frombits(b | 1<<31)} {
			if x >= lo && x <= hi {
				v = append(v, x)
			}
		}
	}
	return append(v, specials()...)
}

func specials() []float32 {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	return []float32{0, float32(math.Copysign(0, -1)), inf, -inf, nan, -nan,
		math.Float32frombits(1), math.Float32frombits(1 | 1<<31), // ±smallest subnormal
		math.Float32frombits(0x007fffff), 0x1p-126, -0x1p-126, math.MaxFloat32, -math.MaxFloat32,
		-100, 100, 1, -1, 0.5, -0.5, 88.72283, 88.72284, 88.7229, 89, 89.5,
		-87.33654, -87.3366, -103.27893, -103.97208, -103.97209, -104, -104.5, -1e6, 1e6,
		-16, 16, -15.99, 15.99, -9, 9, -5.5, 5.5, 1e-20, -1e-20, 3e-39, -3e-39}
}

// same reports whether a and b are the same float32 bits, or both NaN.
func same(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

func apply(im Impl, f func([]float32), in []float32) []float32 {
	out := append([]float32(nil), in...)
	old := CurrentImpl()
	SetImpl(im)
	f(out)
	SetImpl(old)
	return out
}

func expInPlace(v []float32) { Exp(v, v) }

// Exp: the worst error on [-87.34, 88.72] (normal results), measured over
// every float32 there with IMGGEN_VMATH_EXHAUSTIVE=1, is 0.894 ulp (at
// 26.6887); subnormal results are within 0.843 units of 2^-149. All paths
// give the same bits (TestSameBits), so this holds for each.
func TestExpAccuracy(t *testing.T) {
	in := sweep(-110, 95, 613)
	forEachImpl(t, func(t *testing.T, im Impl) {
		out := apply(im, expInPlace, in)
		worst, worstSub := 0.0, 0.0
		var wx float32
		for i, x := range in {
			want := math.Exp(float64(x))
			e := ulps(out[i], want)
			if want < 0x1p-126 && x == x {
				worstSub = max(worstSub, e)
				continue
			}
			if e > worst {
				worst, wx = e, x
			}
		}
		t.Logf("%d values: max %.3f ulp (at %g), subnormal results max %.3f units of 2^-149", len(in), worst, wx, worstSub)
		if worst > 1 || worstSub > 1 {
			t.Errorf("exp error too large: %.3f ulp, subnormal %.3f", worst, worstSub)
		}
	})
}

func TestExpSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct{ x, want float32 }{
		{0, 1}, {float32(math.Copysign(0, -1)), 1}, {inf, inf}, {-inf, 0},
		{100, inf}, {88.7229, inf}, {1e6, inf}, {-104, 0}, {-1e6, 0}, {-103.98, 0},
		{math.Float32frombits(1), 1}, {-math.Float32frombits(1), 1},
	}
	forEachImpl(t, func(t *testing.T, im Impl) {
		for _, c := range cases {
			out := apply(im, expInPlace, []float32{c.x})[0]
			if !same(out, c.want) {
				t.Errorf("exp(%g) = %g, want %g", c.x, out, c.want)
			}
		}
		if out := apply(im, expInPlace, []float32{float32(math.NaN())})[0]; out == out {
			t.Errorf("exp(NaN) = %g", out)
		}
		if out := apply(im, expInPlace, []float32{88.72283})[0]; math.IsInf(float64(out), 0) {
			t.Errorf("exp(88.72283) overflowed")
		}
		if out := apply(im, expInPlace, []float32{-100})[0]; ulps(out, math.Exp(-100)) > 1 {
			t.Errorf("exp(-100) = %g", out)
		}
	})
}

// TestExhaustive checks every float32 of each function's range on the
// current kernel set (minutes; only with IMGGEN_VMATH_EXHAUSTIVE=1):
// exp on [-104, 89], GELU on [-20, 20], SiLU on [-88, 88], QuickGELU on
// [-50, 50]. The numbers it gave are in the comments of TestExpAccuracy
// and TestActivationAccuracy.
func TestExhaustive(t *testing.T) {
	if os.Getenv("IMGGEN_VMATH_EXHAUSTIVE") != "1" {
		t.Skip("set IMGGEN_VMATH_EXHAUSTIVE=1")
	}
	buf := make([]float32, 1<<16)
	each := func(lo, hi float32, f func(in, out []float32)) {
		for _, sign := range []uint32{0, 1 << 31} {
			for b := uint32(0); b < 0x7f800000; b += uint32(len(buf)) {
				for i := range buf {
					buf[i] = math.Float32frombits((b + uint32(i)) | sign)
				}
				if buf[0] > hi || buf[0] < lo {
					continue
				}
				in := append([]float32(nil), buf...)
				f(in, buf)
			}
		}
	}
	worst, worstSub := 0.0, 0.0
	var wx float32
	each(-104, 89, func(in, out []float32) {
		Exp(out, out)
		for i, x := range in {
			want := math.Exp(float64(x))
			e := ulps(out[i], want)
			if want < 0x1p-126 {
				worstSub = max(worstSub, e)
			} else if e > worst {
				worst, wx = e, x
			}
		}
	})
	t.Logf("%v exp: max %.4f ulp at %g; subnormal results max %.3f units of 2^-149", CurrentImpl(), worst, wx, worstSub)
	for _, c := range []struct {
		name   string
		f      func([]float32)
		ref    func(float64) float64
		lo, hi float32
	}{
		{"GELU", GELU, geluRef, -20, 20},
		{"SiLU", SiLU, siluRef, -88, 88},
		{"QuickGELU", QuickGELU, quickGELURef, -50, 50},
	} {
		var abs, rel, ulp float64
		var xa, xr float32
		each(c.lo, c.hi, func(in, out []float32) {
			c.f(out)
			a, r, u, ia, ir := errStats(in, out, c.ref)
			if a > abs {
				abs, xa = a, ia
			}
			if r > rel {
				rel, xr = r, ir
			}
			ulp = max(ulp, u)
		})
		t.Logf("%v %s: max abs %.3g (at %g), max rel %.3g (at %g), %.2f ulp", CurrentImpl(), c.name, abs, xa, rel, xr, ulp)
	}
}

func geluRef(x float64) float64 { return x * 0.5 * math.Erfc(-x/math.Sqrt2) }

func siluRef(x float64) float64 { return x / (1 + math.Exp(-x)) }

// quickGELURef takes the exponent rounded to float32, as nn.QuickGELU and
// torch's x·sigmoid(1.702·x) do: that rounding alone moves the result by up
// to |1.702x|·2^-24 relative (4e-6 at x = -38), the same on every path.
func quickGELURef(x float64) float64 {
	return x / (1 + math.Exp(float64(float32(-1.702)*float32(x))))
}

// errStats gives the largest absolute error and the largest relative
// error (where |want| >= 1e-30) and ulps (where |want| >= 2^-126).
func errStats(in, out []float32, ref func(float64) float64) (abs, rel, ulp float64, atAbs, atRel float32) {
	for i, x := range in {
		want := ref(float64(x))
		if math.IsNaN(want) || math.IsInf(want, 0) {
			continue
		}
		d := math.Abs(float64(out[i]) - want)
		if d > abs {
			abs, atAbs = d, x
		}
		if math.Abs(want) >= 1e-30 && d/math.Abs(want) > rel {
			rel, atRel = d/math.Abs(want), x
		}
		if math.Abs(want) >= 0x1p-126 {
			ulp = max(ulp, ulps(out[i], want))
		}
	}
	return
}

// Measured over every float32 of the range (TestExhaustive, AVX2; all
// paths give the same bits):
//
//	GELU      [-20, 20]: abs 3.8e-7 (x = 4.89: 0.8 ulp), rel 4.2e-7, 9.5 ulp
//	SiLU      [-88, 88]: abs 1.3e-6 (x = 13.8: 1.3 ulp), rel 1.7e-7, 2.4 ulp
//	QuickGELU [-50, 50]: abs 7.4e-7 (x = 8.63: 1.2 ulp), rel 1.7e-7, 2.3 ulp
//
// The test itself samples every 251st pattern. SiLU of x < -88.7 is -0
// (exp(-x) overflows; torch does the same).
func TestActivationAccuracy(t *testing.T) {
	cases := []struct {
		name        string
		f           func([]float32)
		ref         func(float64) float64
		lo, hi      float32
		maxRel, ulp float64
	}{
		{"GELU", GELU, geluRef, -20, 20, 5e-7, 10},
		{"SiLU", SiLU, siluRef, -88, 88, 3e-7, 3},
		{"QuickGELU", QuickGELU, quickGELURef, -50, 50, 3e-7, 3},
	}
	for _, c := range cases {
		in := sweep(c.lo, c.hi, 251)
		t.Run(c.name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, im Impl) {
				out := apply(im, c.f, in)
				abs, rel, ulp, xa, xr := errStats(in, out, c.ref)
				t.Logf("%d values: max abs %.3g (at %g), max rel %.3g (at %g), %.2f ulp", len(in), abs, xa, rel, xr, ulp)
				if rel > c.maxRel || ulp > c.ulp {
					t.Errorf("error too large")
				}
			})
		})
	}
}

func TestActivationSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	negz := float32(math.Copysign(0, -1))
	cases := []struct {
		name string
		f    func([]float32)
		in   []float32
		want []float32
	}{
		{"GELU", GELU, []float32{0, negz, inf, -inf, nan, -20, 20, -100, 100}, []float32{0, negz, inf, nan, nan, negz, 20, negz, 100}},
		{"SiLU", SiLU, []float32{0, negz, inf, -inf, nan, -100, 100}, []float32{0, negz, inf, nan, nan, negz, 100}},
		{"QuickGELU", QuickGELU, []float32{0, negz, inf, -inf, nan, -100, 100}, []float32{0, negz, inf, nan, nan, negz, 100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, im Impl) {
				out := apply(im, c.f, c.in)
				for i := range c.in {
					if !same(out[i], c.want[i]) {
						t.Errorf("%s(%g) = %g, want %g", c.name, c.in[i], out[i], c.want[i])
					}
				}
			})
		})
	}
}

// TestSameBits checks that the assembly gives the Go path's bits for every
// element, at every position of the slice.
func TestSameBits(t *testing.T) {
	in := sweep(-200, 200, 4093)
	in = append(in, sweep(-1e30, 1e30, 1<<20)...)
	in = append(in, sweep(-105, -86, 1<<16)...) // subnormal exp results: where scaling by 2^n rounds
	ss := func(v []float32) { ScaleShift(v, v, 0.75, -0.3, true) }
	ssPlain := func(v []float32) { ScaleShift(v, v, -1.3, 0.1, false) }
	fs := map[string]func([]float32){"Exp": expInPlace, "SiLU": SiLU, "GELU": GELU, "QuickGELU": QuickGELU,
		"ScaleShift+SiLU": ss, "ScaleShift": ssPlain}
	for name, f := range fs {
		want := apply(ImplGo, f, in)
		t.Run(name, func(t *testing.T) {
			forEachImpl(t, func(t *testing.T, im Impl) {
				got := apply(im, f, in)
				bad := 0
				for i := range in {
					if !same(got[i], want[i]) {
						if bad < 5 {
							t.Errorf("%s(%g): %v %g (%#x), go %g (%#x)", name, in[i], im, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
						}
						bad++
					}
				}
				// Any offset and length: the tail path gives the same bits.
				for off := 0; off < 17; off++ {
					for n := 0; n < 40; n++ {
						part := apply(im, f, in[1000+off:1000+off+n])
						for i := range part {
							if !same(part[i], want[1000+off+i]) {
								t.Fatalf("%s at offset %d of %d: %g, want %g", name, i, n, part[i], want[1000+off+i])
							}
						}
					}
				}
			})
		})
	}
}

func TestExpNoAlias(t *testing.T) {
	src := sweep(-90, 90, 1<<18)[:1000]
	forEachImpl(t, func(t *testing.T, im Impl) {
		dst := make([]float32, len(src)+5)
		dst[len(src)] = 42
		Exp(dst, src)
		for i, x := range src {
			if !same(dst[i], exp1(x)) {
				t.Fatalf("Exp(%g) = %g", x, dst[i])
			}
		}
		if dst[len(src)] != 42 {
			t.Fatal("Exp wrote past len(src)")
		}
	})
}

func TestGEGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, inner := range []int{1, 7, 16, 33, 320} {
		rows := 3
		x := make([]float32, rows*2*inner)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 3)
		}
		bias := make([]float32, 2*inner)
		for i := range bias {
			bias[i] = float32(r.NormFloat64())
		}
		for _, mode := range []string{"plain", "bias", "in place"} {
			withBias := mode != "plain"
			forEachImpl(t, func(t *testing.T, im Impl) {
				dst := make([]float32, rows*inner+1)
				dst[rows*inner] = 42
				switch mode {
				case "plain":
					GEGLU(dst, x, inner)
				case "bias":
					GEGLUBias(dst, x, bias, inner)
				case "in place":
					y := append([]float32(nil), x...)
					GEGLUInPlace(y, bias, inner)
					for rr := 0; rr < rows; rr++ {
						copy(dst[rr*inner:], y[2*rr*inner:(2*rr+1)*inner])
						if g := y[(2*rr+1)*inner : (2*rr+2)*inner]; !slices.Equal(g, x[(2*rr+1)*inner:(2*rr+2)*inner]) {
							t.Fatalf("inner %d row %d: the gate half changed", inner, rr)
						}
					}
				}
				for rr := 0; rr < rows; rr++ {
					for j := 0; j < inner; j++ {
						a, b := x[2*rr*inner+j], x[(2*rr+1)*inner+j]
						if withBias {
							// The bits of adding the bias in a pass of its own.
							a, b = a+bias[j], b+bias[inner+j]
						}
						got := dst[rr*inner+j]
						if want := a * gelu1(b); !same(got, want) {
							t.Fatalf("inner %d %s row %d col %d: %g, want %g", inner, mode, rr, j, got, want)
						}
						if ref := float64(a) * geluRef(float64(b)); math.Abs(float64(got)-ref) > 1e-6*math.Max(1, math.Abs(ref)) {
							t.Fatalf("inner %d: %g vs float64 %g", inner, got, ref)
						}
					}
				}
				if dst[rows*inner] != 42 {
					t.Fatal("GEGLU wrote past the output")
				}
			})
		}
	}
}

func TestScaleShift(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, 1000)
	for i := range src {
		src[i] = float32(r.NormFloat64() * 10)
	}
	forEachImpl(t, func(t *testing.T, im Impl) {
		for _, silu := range []bool{false, true} {
			dst := make([]float32, len(src))
			ScaleShift(dst, src, 0.37, -1.25, silu)
			for i, x := range src {
				want := fma32(x, 0.37, -1.25)
				ref := float64(x)*float64(float32(0.37)) + float64(float32(-1.25))
				if silu {
					want = silu1(want)
					ref = siluRef(ref)
				}
				if !same(dst[i], want) {
					t.Fatalf("silu=%v x=%g: %g, want %g", silu, x, dst[i], want)
				}
				if math.Abs(float64(dst[i])-ref) > 1e-6*math.Max(1, math.Abs(ref)) {
					t.Fatalf("silu=%v x=%g: %g vs float64 %g", silu, x, dst[i], ref)
				}
			}
		}
	})
}

// fma32 against an exact big.Float evaluation.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	rnd := func() float32 {
		switch r.IntN(4) {
		case 0:
			return math.Float32frombits(r.Uint32())
		case 1:
			return float32(r.NormFloat64())
		case 2: // subnormal products
			return float32(r.NormFloat64()) * 0x1p-70
		}
		return float32(r.IntN(1<<12)) / 4096
	}
	for i := 0; i < 2000000; i++ {
		a, b, c := rnd(), rnd(), rnd()
		if i%3 == 0 { // aim at halfway cases: c cancels most of a·b
			c = -float32(float64(a) * float64(b))
		}
		if a != a || b != b || c != c || math.IsInf(float64(a), 0) || math.IsInf(float64(b), 0) || math.IsInf(float64(c), 0) {
			continue
		}
		got := fma32(a, b, c)
		p := new(big.Float).SetPrec(400).SetFloat64(float64(a))
		p.Mul(p, new(big.Float).SetFloat64(float64(b)))
		p.Add(p, new(big.Float).SetFloat64(float64(c)))
		want, _ := p.Float32()
		if got != want && !(got == 0 && want == 0) {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
}

// softmaxRef is softmax(x·scale) in float64. With exact, the scores are
// taken exactly; otherwise as the kernels define them, d = float32(
// float32(x·scale) - max) rounded twice to float32, so that only the
// error of exp, the sum and the normalisation remains.
func softmaxRef(x []float32, scale float32, exact bool) []float64 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		m = max(m, v*scale)
	}
	out := make([]float64, len(x))
	var s float64
	for i, v := range x {
		d := float64(float32(v*scale) - m)
		if exact {
			d = float64(v)*float64(scale) - float64(m)
		}
		out[i] = math.Exp(d)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// softmaxErr is the largest absolute error, and relative error where
// want >= 1e-6.
func softmaxErr(got []float32, want []float64) (abs, rel float64) {
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		abs = max(abs, d)
		if w >= 1e-6 {
			rel = max(rel, d/w)
		}
	}
	return
}

// Softmax, over rows of 1..4096 scores x·scale ~ N(0, 3²), all paths
// alike: against the defined formula (scores rounded as in the kernel) abs
// 3.6e-7, rel 6.5e-7, mostly the float32 sum of the exps (16 lanes of up to
// 256 terms); against exact scores abs 3.6e-7, rel 1.1e-6 (adding the
// float32 rounding of x·scale - max, which torch does too). nn's
// softmaxScaled (one sequential float32 sum) measures abs 3.0e-6, rel
// 5.0e-6 against exact scores.
func TestSoftmax(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im Impl) {
		r := rand.New(rand.NewPCG(7, 8))
		var defAbs, defRel, exAbs, exRel, oldAbs, oldRel float64
		for rep := 0; rep < 20; rep++ {
			for _, n := range []int{1, 2, 15, 16, 17, 48, 77, 100, 112, 1024, 4096} {
				row := make([]float32, n+9)
				for i := range row {
					row[i] = float32(r.NormFloat64() * 3 / 0.125)
				}
				got := append([]float32(nil), row...)
				SoftmaxScaled(got, n, 0.125)
				a, b := softmaxErr(got, softmaxRef(row[:n], 0.125, false))
				defAbs, defRel = max(defAbs, a), max(defRel, b)
				a, b = softmaxErr(got, softmaxRef(row[:n], 0.125, true))
				exAbs, exRel = max(exAbs, a), max(exRel, b)
				old := append([]float32(nil), row[:n]...)
				nnSoftmaxScaled(old, 0.125)
				a, b = softmaxErr(old, softmaxRef(row[:n], 0.125, true))
				oldAbs, oldRel = max(oldAbs, a), max(oldRel, b)
				for i := n; i < len(got); i++ {
					if got[i] != 0 {
						t.Fatalf("n=%d: row[%d] = %g, want 0", n, i, got[i])
					}
				}
				if rep > 4 {
					continue
				}
				// Same bits as the Go path, and at any offset (five
				// draws, so that the maximum falls in each of the
				// kernels' accumulators).
				want := append([]float32(nil), row...)
				SetImpl(ImplGo)
				SoftmaxScaled(want, n, 0.125)
				SetImpl(im)
				buf := make([]float32, len(row)+16)
				for off := 0; off < 16; off += 5 {
					shifted := buf[off : off+len(row)]
					copy(shifted, row)
					SoftmaxScaled(shifted, n, 0.125)
					for i := range want {
						if !same(shifted[i], want[i]) {
							t.Fatalf("n=%d offset %d: [%d] = %g, go path %g", n, off, i, shifted[i], want[i])
						}
					}
				}
			}
		}
		t.Logf("vs defined formula: abs %.3g rel %.3g; vs exact: abs %.3g rel %.3g; nn's softmaxScaled vs exact: abs %.3g rel %.3g",
			defAbs, defRel, exAbs, exRel, oldAbs, oldRel)
		if defAbs > 5e-7 || defRel > 1e-6 || exAbs > 5e-7 || exRel > 2e-6 {
			t.Errorf("softmax error too large")
		}
	})
}

func TestSoftmaxSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	forEachImpl(t, func(t *testing.T, im Impl) {
		// Masked entries (-Inf) give 0.
		row := []float32{1, -inf, 2, -inf}
		SoftmaxScaled(row, 4, 1)
		e := math.Exp(-1)
		if math.Abs(float64(row[0])-e/(1+e)) > 1e-7 || row[1] != 0 || row[3] != 0 {
			t.Errorf("masked row: %v", row)
		}
		// NaN, +Inf or all -Inf: all NaN.
		for _, r := range [][]float32{{1, nan, 2}, {1, inf, 2}, {-inf, -inf, -inf}} {
			SoftmaxScaled(r, 3, 1)
			for _, v := range r {
				if v == v {
					t.Errorf("row %v: want NaN", r)
				}
			}
		}
		// n = 0 clears; large scores do not overflow.
		r := []float32{5, 6}
		SoftmaxScaled(r, 0, 1)
		if r[0] != 0 || r[1] != 0 {
			t.Errorf("n=0: %v", r)
		}
		big := []float32{1e30, 1e30, -1e30}
		SoftmaxScaled(big, 3, 1)
		if big[0] != 0.5 || big[1] != 0.5 || big[2] != 0 {
			t.Errorf("large scores: %v", big)
		}
		// Causal: n < len.
		c := make([]float32, 40)
		for i := range c {
			c[i] = float32(i)
		}
		SoftmaxScaled(c, 20, -1)
		for i := 20; i < 40; i++ {
			if c[i] != 0 {
				t.Fatalf("causal tail not cleared")
			}
		}
	})
}

// exactMoments is the mean and biased variance in big.Float.
func exactMoments(v []float32) (float64, float64) {
	s := new(big.Float).SetPrec(2000)
	for _, x := range v {
		s.Add(s, new(big.Float).SetFloat64(float64(x)))
	}
	n := new(big.Float).SetInt64(int64(len(v)))
	mean := new(big.Float).SetPrec(2000).Quo(s, n)
	ss := new(big.Float).SetPrec(2000)
	for _, x := range v {
		d := new(big.Float).SetPrec(2000).SetFloat64(float64(x))
		d.Sub(d, mean)
		ss.Add(ss, d.Mul(d, d))
	}
	m, _ := mean.Float64()
	q, _ := ss.Quo(ss, n).Float64()
	return m, q
}

// Moments: relative error of mean and variance below 1e-15 in these cases
// (including mean/std = 1e4), far under the 1e-7 needed.
func TestMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	forEachImpl(t, func(t *testing.T, im Impl) {
		worstM, worstV := 0.0, 0.0
		for _, n := range []int{1, 3, 31, 32, 33, 320, 1000, 40960} {
			for _, mu := range []float64{0, 3, 1e4} {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(mu + r.NormFloat64())
				}
				m, q := Moments(v)
				em, eq := exactMoments(v)
				worstM = max(worstM, math.Abs(m-em)/math.Max(math.Abs(em), 1e-300))
				if eq > 0 {
					worstV = max(worstV, math.Abs(q-eq)/eq)
				}
				// Same bits at any offset and on the Go path.
				buf := make([]float32, n+40)
				SetImpl(ImplGo)
				gm, gq := Moments(v)
				SetImpl(im)
				for off := 1; off < 40; off += 13 {
					copy(buf[off:], v)
					m2, q2 := Moments(buf[off : off+n])
					if m2 != m || q2 != q || m != gm || q != gq {
						t.Fatalf("n=%d offset %d: (%v %v), first (%v %v), go (%v %v)", n, off, m2, q2, m, q, gm, gq)
					}
				}
			}
		}
		t.Logf("max rel error: mean %.3g, variance %.3g", worstM, worstV)
		if worstM > 1e-12 || worstV > 1e-12 {
			t.Errorf("moments error too large")
		}
		if m, q := Moments(nil); m == m || q == q {
			t.Errorf("Moments(nil) = %v, %v; want NaN", m, q)
		}
	})
}

func TestImplSelect(t *testing.T) {
	for _, s := range []string{"go", "avx2", "avx512"} {
		im, err := ParseImpl(s)
		if err != nil || im.String() != s {
			t.Errorf("ParseImpl(%q) = %v, %v", s, im, err)
		}
	}
	if _, err := ParseImpl("sse"); err == nil {
		t.Error("ParseImpl(sse) succeeded")
	}
	if !Supported(ImplGo) {
		t.Error("Go path unsupported")
	}
	t.Logf("current %v, supported %v", CurrentImpl(), impls())
}

// TestTransposeAddBias16: every kernel set moves each value to its
// transposed place with its channel's bias added, the same bits, and
// touches nothing outside the block.
func TestTransposeAddBias16(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 16))
	forEachImpl(t, func(t *testing.T, _ Impl) {
		for _, ld := range [][2]int{{16, 16}, {37, 20}, {4096, 320}} {
			ldd, lds := ld[0], ld[1]
			src := make([]float32, 15*lds+16)
			for i := range src {
				src[i] = float32(r.NormFloat64())
			}
			bias := []float32{}
			for range 16 {
				bias = append(bias, float32(r.NormFloat64()))
			}
			dst := make([]float32, 15*ldd+16+3)
			for i := range dst {
				dst[i] = 7
			}
			TransposeAddBias16(dst, ldd, src, lds, bias)
			for i := 0; i < 16; i++ {
				for c := 0; c < 16; c++ {
					want := src[c*lds+i] + bias[i]
					if got := dst[i*ldd+c]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("ld %v: dst[%d][%d] = %g, want %g", ld, i, c, got, want)
					}
				}
			}
			written := 0
			for _, v := range dst {
				if v != 7 {
					written++
				}
			}
			if written != 256 {
				t.Fatalf("ld %v: %d values written, want 256", ld, written)
			}
		}
	})
}

// TestWidenTranspose16: every kernel set widens each float16 value
// exactly (subnormals and infinities included; NaNs stay NaN, as with
// WidenF16) into its transposed place.
func TestWidenTranspose16(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 17))
	forEachImpl(t, func(t *testing.T, _ Impl) {
		for _, lds := range []int{16, 23, 2880} {
			src := make([]uint16, 15*lds+16)
			for i := range src {
				src[i] = uint16(r.IntN(1 << 16))
			}
			dst := make([]float32, 256)
			WidenTranspose16(dst, src, lds)
			for p := 0; p < 16; p++ {
				for j := 0; j < 16; j++ {
					want := F16ToF32(src[j*lds+p])
					got := dst[p*16+j]
					if want != want { // NaN: F16C quiets a signalling one, as WidenF16 does
						if got == got {
							t.Fatalf("lds %d: dst[%d][%d] = %g, want NaN", lds, p, j, got)
						}
						continue
					}
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("lds %d: dst[%d][%d] bits %#x, want %#x", lds, p, j, math.Float32bits(got), math.Float32bits(want))
					}
				}
			}
		}
	})
}
