package refcheck

import (
	"math"
	"testing"
)

// recorder stands in for a test: it records failures and stops at Fatal
// the way testing.T does (the deferred recover in check ends the call).
type recorder struct {
	testing.TB
	errors, fatals int
}

type stop struct{}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Errorf(string, ...any)     { r.errors++ }
func (r *recorder) Fatalf(f string, a ...any) { r.fatals++; panic(stop{}) }

func check(f func(t testing.TB)) (r *recorder) {
	r = &recorder{}
	defer func() {
		if v := recover(); v != nil && v != (stop{}) {
			panic(v)
		}
	}()
	f(r)
	return r
}

func TestComparisons(t *testing.T) {
	nan := float32(math.NaN())
	next := math.Nextafter32(1, 2)
	tests := []struct {
		name          string
		f             func(t testing.TB)
		errors, fatal int
	}{
		{"within", func(t testing.TB) { Within(t, "x", []float32{1, 2}, []float32{1, 2.5}, 0.5) }, 0, 0},
		{"above", func(t testing.TB) { Within(t, "x", []float32{1, 2}, []float32{1, 2.5}, 0.4) }, 1, 0},
		{"NaN fails", func(t testing.TB) { Within(t, "x", []float32{nan}, []float32{1}, 1e30) }, 1, 0},
		{"short result", func(t testing.TB) { Within(t, "x", []float32{1}, []float32{1, 2}, 1) }, 0, 1},
		{"long result", func(t testing.TB) { Within(t, "x", []float32{1, 2, 3}, []float32{1, 2}, 1) }, 0, 1},
		{"nothing", func(t testing.TB) { Within(t, "x", nil, nil, 1) }, 0, 1},
		{"relative", func(t testing.TB) { Check(t, "x", RelDiff(t, "x", []float32{10, 1}, []float32{10, 2}), 0.1) }, 0, 0},
		{"relative above", func(t testing.TB) { Check(t, "x", RelDiff(t, "x", []float32{10, 1}, []float32{10, 2}), 0.09) }, 1, 0},
		{"check", func(t testing.TB) { Check(t, "x", 2, 1) }, 1, 0},
		{"check NaN", func(t testing.TB) { Check(t, "x", math.NaN(), 1) }, 1, 0},
		{"bits", func(t testing.TB) { Bitwise(t, "x", []float32{1, nan, 0}, []float32{1, nan, 0}) }, 0, 0},
		{"-0 is not 0", func(t testing.TB) { Bitwise(t, "x", []float32{float32(math.Copysign(0, -1))}, []float32{0}) }, bitErrors(1), 0},
		{"one ulp", func(t testing.TB) { Bitwise(t, "x", []float32{next}, []float32{1}) }, bitErrors(1), 0},
		{"bits, short", func(t testing.TB) { Bitwise(t, "x", []float32{1}, []float32{1, 1}) }, 0, 1},
		{"empty table", func(t testing.TB) { NotEmpty(t, "x", 0) }, 0, 1},
		{"table", func(t testing.TB) { NotEmpty(t, "x", 3) }, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := check(tc.f)
			if r.errors != tc.errors || r.fatals != tc.fatal {
				t.Errorf("%d errors, %d fatal; want %d, %d", r.errors, r.fatals, tc.errors, tc.fatal)
			}
		})
	}
}

// bitErrors is the failures Bitwise reports for a difference of at most
// ulpsWhereFused: none where multiply-adds may fuse.
func bitErrors(n int) int {
	if fusesMultiplyAdd {
		return 0
	}
	return n
}

func TestULPs(t *testing.T) {
	for _, tc := range []struct {
		a, b float32
		want int
	}{
		{1, 1, 0},
		{1, math.Nextafter32(1, 2), 1},
		{math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 2},
		{0, float32(math.Copysign(0, -1)), 0},
		{-1, math.Nextafter32(-1, -2), 1},
		{float32(math.NaN()), 1, math.MaxInt},
	} {
		if got := ulps(tc.a, tc.b); got != tc.want {
			t.Errorf("ulps(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
