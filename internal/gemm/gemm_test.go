package gemm

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// fma32 returns a*b+c rounded once to float32, exactly what VFMADD231PS
// computes per lane: the reference for the assembly kernels.
//
// float32(math.FMA(...)) would round twice (to float64, then to float32)
// and can differ in rare halfway cases. Instead: the float64 product of two
// float32 values is exact; p+c is rounded to float64 and its error e
// recovered exactly (TwoSum); if inexact, s is moved to the neighbour with
// an odd last bit (round-to-odd). Rounding a round-to-odd float64 to float32
// is then correct because float64 has more than 24+2 bits.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cc := float64(c)
	s := p + cc
	v := s - p
	e := (p - (s - v)) + (cc - v)
	if e != 0 && e == e { // inexact and finite (NaN e means s is Inf or NaN)
		bits := math.Float64bits(s)
		if bits&1 == 0 {
			if (e > 0) == (s > 0) {
				bits++ // away from zero
			} else {
				bits-- // toward zero; s != 0 here since e != 0
			}
			s = math.Float64frombits(bits)
		}
	}
	return float32(s)
}

// impls lists the kernel sets this machine can run.
func impls() []Impl {
	var out []Impl
	for _, im := range []Impl{ImplGo, ImplAVX2, ImplAVX512} {
		if Supported(im) {
			out = append(out, im)
		}
	}
	return out
}

func withImpl(t testing.TB, im Impl) {
	t.Helper()
	old := CurrentImpl()
	if err := SetImpl(im); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { SetImpl(old) })
}

// splitTiny lets tests run tiny products on several goroutines.
func splitTiny(t testing.TB) {
	t.Cleanup(SplitTinyProducts())
}

type shape struct{ m, n, k, lda, ldb, ldc int }

func (s shape) String() string {
	return fmt.Sprintf("m%d_n%d_k%d_lda%d_ldb%d_ldc%d", s.m, s.n, s.k, s.lda, s.ldb, s.ldc)
}

// testShapes covers every remainder of m mod 6 and n mod 32 / 16, k = 1
// and k off every block size, exact leading dimensions and padded ones.
func testShapes() []shape {
	r := rand.New(rand.NewPCG(1, 2))
	var ss []shape
	add := func(m, n, k int, pad bool) {
		s := shape{m, n, k, k, n, n}
		if pad {
			s.lda += 1 + r.IntN(9)
			s.ldb += 1 + r.IntN(40)
			s.ldc += 1 + r.IntN(7)
		}
		ss = append(ss, s)
	}
	for _, m := range []int{1, 2, 3, 4, 5, 6, 7, 11, 12, 13} {
		for _, n := range []int{1, 15, 16, 17, 31, 32, 33, 48, 50, 64, 65} {
			add(m, n, 1+r.IntN(20), r.IntN(2) == 0)
		}
	}
	for _, k := range []int{1, 2, 3, 4, 5, 7, 255, 256, 257, 513, 700} {
		add(13, 45, k, false)
		add(6, 32, k, true)
	}
	for i := 0; i < 25; i++ {
		add(1+r.IntN(130), 1+r.IntN(300), 1+r.IntN(300), r.IntN(2) == 0)
	}
	add(97, 40, 1000, true)  // attention P·V
	add(128, 77, 40, true)   // attention Q·Kᵀ, short prompt
	add(200, 1100, 30, true) // more than one nc panel
	return ss
}

func randMat(r *rand.Rand, rows, ld int) []float32 {
	x := make([]float32, rows*ld)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// sentinel fills C, so that writes outside C[m,n] show.
const sentinel = float32(-12345.5)

func newC(s shape) []float32 {
	c := make([]float32, s.m*s.ldc)
	for i := range c {
		c[i] = sentinel
	}
	return c
}

// chain is the definition the package implements: for each element one
// chain over p ascending from +0, of FMAs for the assembly and of a
// rounded product and a rounded sum for Go.
func chain(im Impl, s shape, a, b []float32) []float32 {
	step := fma32
	if im == ImplGo {
		step = func(x, y, acc float32) float32 { return acc + float32(x*y) }
	}
	c := newC(s)
	for i := 0; i < s.m; i++ {
		for j := 0; j < s.n; j++ {
			var acc float32
			for p := 0; p < s.k; p++ {
				acc = step(a[i*s.lda+p], b[p*s.ldb+j], acc)
			}
			c[i*s.ldc+j] = acc
		}
	}
	return c
}

// checkRef compares with a float64 product, allowing k roundings of the
// sum of magnitudes, and checks that C outside [m,n] is untouched.
func checkRef(t *testing.T, s shape, a, b, c []float32) {
	t.Helper()
	eps := math.Ldexp(1, -24)
	for i := 0; i < s.m; i++ {
		for j := 0; j < s.ldc; j++ {
			got := c[i*s.ldc+j]
			if j >= s.n {
				if got != sentinel {
					t.Fatalf("C[%d,%d] outside the product was written: %v", i, j, got)
				}
				continue
			}
			var sum, mag float64
			for p := 0; p < s.k; p++ {
				x := float64(a[i*s.lda+p]) * float64(b[p*s.ldb+j])
				sum += x
				mag += math.Abs(x)
			}
			if d := math.Abs(float64(got) - sum); d > float64(s.k+1)*eps*mag+1e-30 {
				t.Fatalf("C[%d,%d] = %v, want %v (|diff| %g > %g)", i, j, got, sum, d, float64(s.k+1)*eps*mag)
			}
		}
	}
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d = %v (%#x), want %v (%#x)", what, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// transpose returns bt[n, ldbt] with bt[j, p] = b[p, j].
func transpose(s shape, b []float32, ldbt int) []float32 {
	bt := make([]float32, s.n*ldbt)
	for p := 0; p < s.k; p++ {
		for j := 0; j < s.n; j++ {
			bt[j*ldbt+p] = b[p*s.ldb+j]
		}
	}
	return bt
}

// TestSgemm checks every kernel set against the float64 product and, bit
// for bit, against the FMA chain, through all four entry points.
func TestSgemm(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.String(), func(t *testing.T) {
			withImpl(t, im)
			r := rand.New(rand.NewPCG(3, 4))
			for _, s := range testShapes() {
				a, b := randMat(r, s.m, s.lda), randMat(r, s.k, s.ldb)
				want := chain(im, s, a, b)
				c := newC(s)
				Sgemm(s.m, s.n, s.k, a, s.lda, b, s.ldb, c, s.ldc, 1)
				checkRef(t, s, a, b, c)
				sameBits(t, s.String()+" Sgemm vs FMA chain", c, want)

				ldbt := s.k + s.ldb - s.n // padded like B
				bt := transpose(s, b, ldbt)
				c = newC(s)
				SgemmNT(s.m, s.n, s.k, a, s.lda, bt, ldbt, c, s.ldc, 1)
				sameBits(t, s.String()+" SgemmNT", c, want)

				c = newC(s)
				SgemmPacked(s.m, a, s.lda, PackB(b, s.ldb, s.k, s.n), c, s.ldc, 1)
				sameBits(t, s.String()+" SgemmPacked(PackB)", c, want)

				c = newC(s)
				SgemmPacked(s.m, a, s.lda, PackBT(bt, ldbt, s.k, s.n), c, s.ldc, 1)
				sameBits(t, s.String()+" SgemmPacked(PackBT)", c, want)
			}
		})
	}
}

// TestDeterminism: the same bits for any thread count and block sizes,
// and across the assembly kernel sets (Go rounds differently).
func TestDeterminism(t *testing.T) {
	splitTiny(t)
	defer setBlocking(setBlocking(nil))
	blocks := []*blocking{nil, {256, 96, 1024}, {1, 6, 32}, {7, 12, 64}, {64, 30, 96}, {1000, 600, 4096}}
	r := rand.New(rand.NewPCG(5, 6))
	shapes := append(testShapes(),
		shape{1280, 64, 150, 150, 64, 64},   // splits M, packs B up front
		shape{70, 2100, 50, 50, 2100, 2100}, // splits N
		shape{301, 333, 77, 80, 340, 350},
	)
	for _, s := range shapes {
		a, b := randMat(r, s.m, s.lda), randMat(r, s.k, s.ldb)
		pb := PackB(b, s.ldb, s.k, s.n)
		wants := map[bool][]float32{} // by im == ImplGo
		for _, im := range impls() {
			withImpl(t, im)
			for _, bl := range blocks {
				if im == ImplGo && bl != nil && bl.kc < 7 && s.m*s.n > 100000 {
					continue // slow and adds nothing
				}
				setBlocking(bl)
				for _, th := range []int{1, 2, 3, 7} {
					c := newC(s)
					if th%2 == 0 {
						Sgemm(s.m, s.n, s.k, a, s.lda, b, s.ldb, c, s.ldc, th)
					} else {
						SgemmPacked(s.m, a, s.lda, pb, c, s.ldc, th)
					}
					want := wants[im == ImplGo]
					if want == nil {
						checkRef(t, s, a, b, c)
						wants[im == ImplGo] = c
						continue
					}
					sameBits(t, fmt.Sprintf("%v %v blocks %v threads %d", s, im, bl, th), c, want)
				}
			}
		}
	}
}

// TestFMA32 checks the software FMA against exact arithmetic, including a
// case where rounding to float64 first would give the wrong float32.
func TestFMA32(t *testing.T) {
	exact := func(a, b, c float32) float32 {
		x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
		x.Mul(x, new(big.Float).SetFloat64(float64(b)))
		x.Add(x, new(big.Float).SetFloat64(float64(c)))
		f, _ := x.Float32()
		return f
	}
	// (1+2^-12)^2 = 1 + 2^-11 + 2^-24 is a float32 halfway point; a tiny c
	// decides the rounding, but is lost in a float64 sum.
	u := float32(1 + math.Ldexp(1, -12))
	cases := [][3]float32{
		{u, u, float32(math.Ldexp(1, -80))},
		{u, u, -float32(math.Ldexp(1, -80))},
		{-u, u, float32(math.Ldexp(1, -80))},
		{2, 3, 4}, {0, 5, -0}, {-0.0, 1, 0}, {1e30, 1e30, 1}, {1e-30, 1e-30, 0},
	}
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 200000; i++ {
		a := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
		b := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
		c := float32(r.NormFloat64() * math.Exp2(float64(r.IntN(80)-40)))
		if i%2 == 0 { // near cancellation
			c = -a * b * (1 + float32(r.NormFloat64())*1e-6)
		}
		cases = append(cases, [3]float32{a, b, c})
	}
	for _, c := range cases {
		got, want := fma32(c[0], c[1], c[2]), exact(c[0], c[1], c[2])
		if math.Float32bits(got) != math.Float32bits(want) && !(got == 0 && want == 0) {
			t.Fatalf("fma32(%v, %v, %v) = %v, want %v", c[0], c[1], c[2], got, want)
		}
	}
	if f := float32(math.FMA(float64(u), float64(u), math.Ldexp(1, -80))); f == fma32(u, u, float32(math.Ldexp(1, -80))) {
		t.Log("double rounding case did not differ (unexpected but harmless)")
	}
	for _, x := range []float32{float32(math.Inf(1)), float32(math.NaN())} {
		if got := fma32(x, 1, 1); !(got == x || got != got && x != x) {
			t.Fatalf("fma32(%v, 1, 1) = %v", x, got)
		}
	}
	if got := fma32(float32(math.Inf(1)), 0, 1); got == got {
		t.Fatalf("fma32(Inf, 0, 1) = %v, want NaN", got)
	}
}

func TestZeroSizes(t *testing.T) {
	c := []float32{1, 2, 3, 4, 5, 6}
	Sgemm(2, 3, 0, nil, 0, nil, 3, c, 3, 2)
	for _, v := range c {
		if v != 0 {
			t.Fatalf("k = 0 left %v", c)
		}
	}
	Sgemm(0, 3, 4, nil, 4, make([]float32, 12), 3, nil, 3, 2) // no-op
	Sgemm(3, 0, 4, make([]float32, 12), 4, nil, 0, nil, 0, 2)
}

func TestShortSlicePanics(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	a, b, c := make([]float32, 6), make([]float32, 6), make([]float32, 4)
	mustPanic("short a", func() { Sgemm(2, 2, 3, a[:5], 3, b, 2, c, 2, 1) })
	mustPanic("short b", func() { Sgemm(2, 2, 3, a, 3, b[:5], 2, c, 2, 1) })
	mustPanic("short c", func() { Sgemm(2, 2, 3, a, 3, b, 2, c[:3], 2, 1) })
	mustPanic("small lda", func() { Sgemm(2, 2, 3, a, 2, b, 2, c, 2, 1) })
	mustPanic("short bt", func() { SgemmNT(2, 2, 3, a, 3, b[:5], 3, c, 2, 1) })
}

func TestParseImpl(t *testing.T) {
	for _, im := range []Impl{ImplGo, ImplAVX2, ImplAVX512} {
		if got, err := ParseImpl(im.String()); err != nil || got != im {
			t.Errorf("ParseImpl(%q) = %v, %v", im.String(), got, err)
		}
	}
	if _, err := ParseImpl("sse"); err == nil {
		t.Error("ParseImpl(sse) succeeded")
	}
	t.Logf("kernel sets here: %v, in use: %v", impls(), CurrentImpl())
}

// TestCeiling: the kernel ceiling is measured on every thread and is a
// plausible rate (a Go kernel does at least 0.5 GFLOPS on any CPU).
func TestCeiling(t *testing.T) {
	one, two := Ceiling(1, 50*time.Millisecond), Ceiling(2, 50*time.Millisecond)
	t.Logf("%v: %.1f GFLOPS on 1 thread, %.1f on 2", CurrentImpl(), one, two)
	if !(one > 0.5) || !(two > 0.5) {
		t.Errorf("ceiling %.2f / %.2f GFLOPS", one, two)
	}
	bf := CeilingBF16(1, 50*time.Millisecond)
	t.Logf("bfloat16 kernel: %.1f GFLOPS on 1 thread", bf)
	if hasBF16 != (bf > 0.5) {
		t.Errorf("bfloat16 ceiling %.2f GFLOPS with the kernel present: %v", bf, hasBF16)
	}
}

// TestHalfASplit: a float16 A that every goroutine would widen in full
// moves to an M split only where the estimate clearly favours it.
func TestHalfASplit(t *testing.T) {
	for _, tc := range []struct {
		name         string
		workM, workN int
		m, n, k, t   int
		want         bool
	}{
		{"1280-channel 8x8 conv, batch 2", 856, 856, 1280, 128, 11520, 2, true},
		{"640-channel 16x16 conv, batch 2", 1728, 1712, 640, 512, 5760, 2, false},
		{"test shape 60x64x500", 20, 20, 60, 64, 500, 2, true},
	} {
		if got := halfASplitM(tc.workM, tc.workN, tc.m, tc.n, tc.k, tc.t); got != tc.want {
			t.Errorf("%s: split M %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseCacheSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{"48K", 48 << 10}, {"32K", 32 << 10}, {"2048K", 2 << 20}, {"1M", 1 << 20}, {"512", 512},
		{"", 0}, {"K", 0}, {"-4K", 0}, {"48 K", 0}, {"big", 0},
	} {
		if got := parseCacheSize(c.in); got != c.want {
			t.Errorf("parseCacheSize(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

func TestBlockingFollowsL1(t *testing.T) {
	defer func(v int) { l1Data = v }(l1Data)
	for _, c := range []struct {
		l1   int
		im   Impl
		want int
	}{
		{0, ImplAVX512, 192}, {32 << 10, ImplAVX512, 192}, {48 << 10, ImplAVX512, 320},
		{64 << 10, ImplAVX512, 320}, {32 << 10, ImplAVX2, 384}, {48 << 10, ImplAVX2, 576}, {48 << 10, ImplGo, 256},
	} {
		l1Data = c.l1
		if got := blockingFor(c.im, false).kc; got != c.want {
			t.Errorf("L1 %d, %v: kc = %d, want %d", c.l1, c.im, got, c.want)
		}
		if got, want := blockingFor(c.im, true).kc, defaultBlocking[c.im].kc; got != want {
			t.Errorf("L1 %d, %v, offset A: kc = %d, want %d", c.l1, c.im, got, want)
		}
	}
}

// TestBlockOrderAfter: the block named as next (whose float16 rows the
// kernels prefetch) is the one worker.run's loops visit next.
func TestBlockOrderAfter(t *testing.T) {
	for _, o := range []blockOrder{
		{m0: 0, m1: 100, mc: 24, k: 50, kc: 16, n1: 70, nc: 32},
		{m0: 12, m1: 30, mc: 96, k: 320, kc: 320, n1: 64, nc: 512},
		{m0: 6, m1: 7, mc: 6, k: 5, kc: 2, n1: 16, nc: 16},
	} {
		var seq [][3]int // ic, pc, jc in run's order
		for jc := 0; jc < o.n1; jc += o.nc {
			for pc := 0; pc < o.k; pc += o.kc {
				for ic := o.m0; ic < o.m1; ic += o.mc {
					seq = append(seq, [3]int{ic, pc, jc})
				}
			}
		}
		for i, b := range seq {
			want := [2]int{-1, -1}
			if i+1 < len(seq) {
				want = [2]int{seq[i+1][0], seq[i+1][1]}
			}
			if got := o.after(b[0], b[1], b[2]); got != want {
				t.Errorf("%+v: after block %v got %v, want %v", o, b, got, want)
			}
		}
	}
}
