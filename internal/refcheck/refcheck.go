// Package refcheck is what the parity tests share: comparisons of computed
// tensors with reference tensors that log the measured error beside the
// tolerance it is held to, bit-for-bit comparisons, and the one rule that
// decides which reference runs the portable kernels (-tags purego) skip.
//
// Only tests import it.
package refcheck

import (
	"math"
	"testing"
)

// MaxAbs is max |v|.
func MaxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

// MaxAbsDiff is max |got - want|, +Inf where either holds a NaN. Slices of
// different lengths fail the test: a short result must not pass because
// only its prefix was compared.
func MaxAbsDiff(t testing.TB, what string, got, want []float32) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, reference has %d", what, len(got), len(want))
	}
	if len(want) == 0 {
		t.Fatalf("%s: nothing to compare", what)
	}
	var m float64
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

// Within checks max |got - want| <= tol, logging the measured value beside
// the tolerance, and returns the measured value.
func Within(t testing.TB, what string, got, want []float32, tol float64) float64 {
	t.Helper()
	d := MaxAbsDiff(t, what, got, want)
	Check(t, what+" max abs diff", d, tol)
	return d
}

// RelDiff is max |got - want| / max |want|.
func RelDiff(t testing.TB, what string, got, want []float32) float64 {
	t.Helper()
	d := MaxAbsDiff(t, what, got, want)
	if m := MaxAbs(want); m > 0 {
		return d / m
	}
	return d
}

// Check holds an already measured error to its tolerance, logging both.
func Check(t testing.TB, what string, measured, tol float64) {
	t.Helper()
	t.Logf("%s: %.3g (tolerance %.3g)", what, measured, tol)
	if !(measured <= tol) {
		t.Errorf("%s: %.3g > %.3g", what, measured, tol)
	}
}

// Bitwise checks that got is want bit for bit (a NaN matches only the same
// NaN bits), on the architectures where Go never fuses a multiply and an add
// (amd64, 386, wasm). Where the compiler may fuse them (arm64, ppc64,
// s390x, riscv64, loong64) float expressions can round once instead of
// twice, so there it allows ulpsWhereFused units in the last place.
func Bitwise(t testing.TB, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, reference has %d", what, len(got), len(want))
	}
	if len(want) == 0 {
		t.Fatalf("%s: nothing to compare", what)
	}
	differ, worst, first := 0, 0, -1
	for i := range want {
		if math.Float32bits(got[i]) == math.Float32bits(want[i]) {
			continue
		}
		differ++
		if first < 0 {
			first = i
		}
		worst = max(worst, ulps(got[i], want[i]))
	}
	if differ == 0 {
		return
	}
	if fusesMultiplyAdd && worst <= ulpsWhereFused {
		t.Logf("%s: %d of %d values differ by at most %d ulps (this architecture fuses multiply-adds)", what, differ, len(want), worst)
		return
	}
	t.Errorf("%s: %d of %d values differ bitwise (first at %d: %v, want %v; at most %d ulps apart)",
		what, differ, len(want), first, got[first], want[first], worst)
}

// ulpsWhereFused bounds Bitwise's difference where multiply-adds may fuse.
const ulpsWhereFused = 4

// ulps is the distance of two float32 values in units in the last place
// (MaxInt where either is NaN).
func ulps(a, b float32) int {
	if a != a || b != b {
		return math.MaxInt
	}
	ia, ib := ordered(a), ordered(b)
	if ia > ib {
		return int(ia - ib)
	}
	return int(ib - ia)
}

// ordered maps float32 bits onto integers in the order of the values.
func ordered(f float32) int64 {
	b := int64(math.Float32bits(f))
	if b&(1<<31) != 0 {
		return -(b & (1<<31 - 1))
	}
	return b
}

// NotEmpty fails the test when a fixture table it is about to loop over is
// empty, so that the loop cannot pass by running no check.
func NotEmpty(t testing.TB, what string, n int) {
	t.Helper()
	if n == 0 {
		t.Fatalf("%s: the table is empty", what)
	}
}
