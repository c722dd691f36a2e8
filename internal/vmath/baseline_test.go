package vmath

import "math"

// The scalar code that vmath replaces, copied from internal/nn (act.go,
// attention.go) as of this package's introduction, for accuracy comparisons
// and as benchmark baselines. (Not imported: nn is to import vmath.)

func nnSiLU(v []float32) {
	for i, x := range v {
		v[i] = x / (1 + float32(math.Exp(float64(-x))))
	}
}

func nnGELU(v []float32) {
	for i, x := range v {
		v[i] = float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
	}
}

func nnQuickGELU(v []float32) {
	for i, x := range v {
		v[i] = x / (1 + float32(math.Exp(float64(-1.702*x))))
	}
}

// expF64 is math.Exp (the per-element exp the callers use today).
func expF64(x float64) float64 { return math.Exp(x) }

func nnSoftmaxScaled(row []float32, scale float32) {
	mx := float32(math.Inf(-1))
	for i, x := range row {
		x *= scale
		row[i] = x
		mx = max(mx, x)
	}
	var sum float32
	for i, x := range row {
		e := float32(math.Exp(float64(x - mx)))
		row[i] = e
		sum += e
	}
	inv := 1 / sum
	for i := range row {
		row[i] *= inv
	}
}

// nnMoments is nn's moments without the eps and 1/sqrt: mean and biased
// variance, summed sequentially in float64.
func nnMoments(v []float32) (mean, variance float64) {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	mean = s / float64(len(v))
	var ss float64
	for _, x := range v {
		d := float64(x) - mean
		ss += d * d
	}
	return mean, ss / float64(len(v))
}
