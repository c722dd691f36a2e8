package vmath

import (
	"fmt"
	"math"
	"os"
	"testing"
)

// TestFitGELU derives the coefficients of geluR (scalar.go). It only runs
// with IMGGEN_VMATH_FIT set: =1 refits the chosen p = 0.4, degree 10 (a
// minute) and checks the result against geluR; =scan tries p in 0.25..0.6
// and degrees 7..12 (minutes) and prints each one's error:
//
//	IMGGEN_VMATH_FIT=1 go test -run FitGELU -v ./internal/vmath
//
// Target: R(t) = Φ(-u)·exp(u²/2) with u = (1/t - 1)/p, t in [1/(1+16p), 1]
// (u in [0, 16]), a smooth function of t (Φ(-u)/φ(u) is Mills' ratio).
// Method: polynomial fit of R minimising the maximum relative error with
// Lawson's iteratively reweighted least squares (Householder QR in float64,
// Chebyshev nodes), then rounding the coefficients to float32 one at a
// time, highest degree first, refitting the rest after each rounding.
// Candidates are scored by the error of the float32 Horner evaluation
// (fma32) against R. The scan gave, for the best p of each degree, 9.5
// (7), 3.4 (8), 2.8 (9), 2.3 (10), 2.3 (11), 2.3 (12) units of 2^-24:
// degree 10 is where the float32 evaluation error takes over.
func TestFitGELU(t *testing.T) {
	mode := os.Getenv("IMGGEN_VMATH_FIT")
	if mode == "" {
		t.Skip("set IMGGEN_VMATH_FIT=1 (or =scan) to refit the GELU coefficients")
	}
	ps, degs := []float32{geluP}, []int{len(geluR) - 1}
	if mode == "scan" {
		ps, degs = []float32{0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6}, []int{7, 8, 9, 10, 11, 12}
	}
	for _, p := range ps {
		for _, deg := range degs {
			c := fitR(p, deg)
			e := evalRErr(p, c)
			s := fmt.Sprintf("p=%v deg=%d: float32 max rel err %.3g (%.2f units of 2^-24); coefficients", p, deg, e, e/0x1p-24)
			for _, v := range c {
				s += fmt.Sprintf(" %.9g,", v)
			}
			t.Log(s)
			if mode != "scan" {
				for k := range c {
					if c[k] != geluR[k] {
						t.Errorf("refit gives c[%d] = %.9g, geluR has %.9g", k, c[k], geluR[k])
					}
				}
			}
		}
	}
}

// targetR is R(t) in float64.
func targetR(p float32, t float64) float64 {
	u := (1/t - 1) / float64(p)
	return 0.5 * math.Erfc(u/math.Sqrt2) * math.Exp(u*u/2)
}

func fitNodes(p float32) (ts, rs []float64) {
	t0 := 1 / (1 + 16*float64(p))
	const m = 4000
	for i := 0; i < m; i++ {
		z := math.Cos(math.Pi * (float64(i) + 0.5) / m)
		tt := t0 + (1-t0)*(z+1)/2
		ts = append(ts, tt)
		rs = append(rs, targetR(p, tt))
	}
	ts = append(ts, t0, 1)
	rs = append(rs, targetR(p, t0), 0.5)
	return
}

// fitR returns float32 coefficients c[0..deg] (c[k] multiplies t^k).
func fitR(p float32, deg int) []float32 {
	ts, rs := fitNodes(p)
	fixed := make([]bool, deg+1)
	coef := make([]float64, deg+1)
	w := make([]float64, len(ts))
	for k := deg; k >= -1; k-- {
		for i := range w {
			w[i] = 1
		}
		coef = lawson(ts, rs, coef, fixed, w, 200)
		if k >= 0 {
			coef[k] = float64(float32(coef[k]))
			fixed[k] = true
		}
	}
	out := make([]float32, deg+1)
	for i, v := range coef {
		out[i] = float32(v)
	}
	return out
}

// lawson minimises max |P(t)/R(t) - 1| over the free coefficients.
func lawson(ts, rs, coef []float64, fixed []bool, w []float64, iters int) []float64 {
	var free []int
	for k, f := range fixed {
		if !f {
			free = append(free, k)
		}
	}
	if len(free) == 0 {
		return coef
	}
	res := append([]float64(nil), coef...)
	for it := 0; it < iters; it++ {
		a := make([][]float64, len(ts))
		b := make([]float64, len(ts))
		for i, tt := range ts {
			sw := math.Sqrt(w[i])
			row := make([]float64, len(free))
			for j, k := range free {
				row[j] = sw * math.Pow(tt, float64(k)) / rs[i]
			}
			a[i] = row
			rhs := 1.0
			for k, f := range fixed {
				if f {
					rhs -= coef[k] * math.Pow(tt, float64(k)) / rs[i]
				}
			}
			b[i] = sw * rhs
		}
		x := lstsq(a, b)
		for j, k := range free {
			res[k] = x[j]
		}
		// Reweight by the error.
		var sum float64
		for i, tt := range ts {
			e := math.Abs(polyEval(res, tt)/rs[i] - 1)
			w[i] *= e + 1e-300
			sum += w[i]
		}
		for i := range w {
			w[i] /= sum
		}
	}
	return res
}

func polyEval(c []float64, t float64) float64 {
	v := 0.0
	for k := len(c) - 1; k >= 0; k-- {
		v = v*t + c[k]
	}
	return v
}

// lstsq solves min |a·x - b| by Householder QR.
func lstsq(a [][]float64, b []float64) []float64 {
	m, n := len(a), len(a[0])
	// Column scaling.
	sc := make([]float64, n)
	for j := 0; j < n; j++ {
		for i := 0; i < m; i++ {
			sc[j] = math.Max(sc[j], math.Abs(a[i][j]))
		}
		for i := 0; i < m; i++ {
			a[i][j] /= sc[j]
		}
	}
	for j := 0; j < n; j++ {
		var norm float64
		for i := j; i < m; i++ {
			norm = math.Hypot(norm, a[i][j])
		}
		if a[j][j] > 0 {
			norm = -norm
		}
		v := make([]float64, m)
		for i := j; i < m; i++ {
			v[i] = a[i][j]
		}
		v[j] -= norm
		var vv float64
		for i := j; i < m; i++ {
			vv += v[i] * v[i]
		}
		if vv == 0 {
			continue
		}
		for k := j; k < n; k++ {
			var d float64
			for i := j; i < m; i++ {
				d += v[i] * a[i][k]
			}
			d = 2 * d / vv
			for i := j; i < m; i++ {
				a[i][k] -= d * v[i]
			}
		}
		var d float64
		for i := j; i < m; i++ {
			d += v[i] * b[i]
		}
		d = 2 * d / vv
		for i := j; i < m; i++ {
			b[i] -= d * v[i]
		}
	}
	x := make([]float64, n)
	for j := n - 1; j >= 0; j-- {
		s := b[j]
		for k := j + 1; k < n; k++ {
			s -= a[j][k] * x[k]
		}
		x[j] = s / a[j][j]
	}
	for j := range x {
		x[j] /= sc[j]
	}
	return x
}

// evalRErr is the largest relative error of the float32 Horner evaluation
// of c at float32 t values of [1/(1+16p), 1].
func evalRErr(p float32, c []float32) float64 {
	t0 := 1 / (1 + 16*float64(p))
	worst := 0.0
	for i := 0; i <= 200000; i++ {
		tt := float32(t0 + (1-t0)*float64(i)/200000)
		v := c[len(c)-1]
		for k := len(c) - 2; k >= 0; k-- {
			v = fma32(v, tt, c[k])
		}
		worst = math.Max(worst, math.Abs(float64(v)/targetR(p, float64(tt))-1))
	}
	return worst
}
