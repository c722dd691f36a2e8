package vmath

import (
	"fmt"
	"math"

	"github.com/imggen/imggen/internal/kernelset"
)

// Impl names a kernel set (see internal/kernelset).
type Impl = kernelset.Impl

// The kernel sets.
const (
	ImplGo     = kernelset.Go
	ImplAVX2   = kernelset.AVX2
	ImplAVX512 = kernelset.AVX512
)

// ParseImpl maps "go", "avx2" or "avx512" to an Impl.
func ParseImpl(s string) (Impl, error) { return kernelset.Parse(s) }

// Supported reports whether this CPU and build can run im.
func Supported(im Impl) bool {
	switch im {
	case ImplAVX512:
		return hasAVX512
	case ImplAVX2:
		return hasAVX2
	}
	return im == ImplGo
}

// kernels starts with the best kernel set the CPU runs, capped by IMGGEN_VMATH.
var kernels = kernelset.NewSelector("vmath", "IMGGEN_VMATH", Supported)

// CurrentImpl reports the kernel set in use.
func CurrentImpl() Impl { return kernels.Current() }

// SetImpl selects the kernel set for later calls. All sets give the same
// bits, so this only changes speed; it is for tests and benchmarks.
func SetImpl(im Impl) error { return kernels.Set(im) }

// unary applies op to src into dst (same length or longer; dst and src
// are the same slice or do not overlap). The assembly takes whole blocks
// of 16; the last partial block goes through the same kernel in a
// 16-element buffer, so every element takes the same instructions
// whatever its position.
func unary(op int, dst, src []float32, one func(float32) float32) {
	n := len(src)
	dst = dst[:n]
	im := CurrentImpl()
	if im == ImplGo {
		for i, x := range src {
			dst[i] = one(x)
		}
		return
	}
	body := n &^ 15
	if body > 0 {
		unaryAsm(im, op, &dst[0], &src[0], body)
	}
	if t := n - body; t > 0 {
		var buf [16]float32
		copy(buf[:], src[body:])
		unaryAsm(im, op, &buf[0], &buf[0], 16)
		copy(dst[body:], buf[:t])
	}
}

// Exp sets dst[i] = exp(src[i]) for i < len(src). Error <= 1 ulp (see the
// package documentation); +Inf above 88.72, 0 below -103.97, NaN for NaN.
// dst must be at least as long as src; the two are the same slice or do
// not overlap.
func Exp(dst, src []float32) { unary(opExp, dst, src, exp1) }

// SiLU applies x·sigmoid(x), computed as x/(1+exp(-x)), in place.
func SiLU(v []float32) { unary(opSiLU, v, v, silu1) }

// QuickGELU applies CLIP's x·sigmoid(1.702x), computed as
// x/(1+exp(float32(-1.702)·x)), in place.
func QuickGELU(v []float32) { unary(opQuickGELU, v, v, quickGELU1) }

// GELU applies the exact (erf) GELU, x·Φ(x) = x·(1+erf(x/√2))/2, in place.
func GELU(v []float32) { unary(opGELU, v, v, gelu1) }

func silu1(x float32) float32      { return sigmoidMul1(x, -x) }
func quickGELU1(x float32) float32 { return sigmoidMul1(x, float32(-1.702)*x) }

// GEGLU computes, for each row r of x [rows, 2·inner],
// dst[r, j] = x[r, j]·gelu(x[r, inner+j]) into dst [rows, inner] (the
// diffusers GEGLU: hidden·gelu(gate) with hidden the first half). len(x)
// must be a multiple of 2·inner; dst must not overlap x.
func GEGLU(dst, x []float32, inner int) { GEGLUBias(dst, x, nil, inner) }

// GEGLUBias is GEGLU on x plus bias [2·inner] added to every row, each
// sum rounded once: the bits of adding the bias in a pass of its own,
// without that pass over the (widest) activation. A nil bias adds
// nothing.
func GEGLUBias(dst, x, bias []float32, inner int) { geglu(dst, x, bias, inner, false) }

// GEGLUInPlace is GEGLUBias with each row's result written over the
// row's value half, x[r, 0:inner] (the gate half is left as it was): a
// caller that reads the results with a row stride of 2·inner needs no
// second buffer.
func GEGLUInPlace(x, bias []float32, inner int) { geglu(nil, x, bias, inner, true) }

func geglu(dst, x, bias []float32, inner int, inPlace bool) {
	if inner <= 0 {
		return
	}
	if len(x)%(2*inner) != 0 {
		panic(fmt.Sprintf("vmath: GEGLU input of %d floats is not rows of 2·%d", len(x), inner))
	}
	if bias != nil && len(bias) != 2*inner {
		panic(fmt.Sprintf("vmath: GEGLU bias of %d floats for 2·%d", len(bias), inner))
	}
	rows := len(x) / (2 * inner)
	if !inPlace {
		dst = dst[:rows*inner]
	}
	im := CurrentImpl()
	body := inner &^ 15
	var ba, bb []float32 // the halves of the bias
	var pa, pb *float32  // their starts for the assembly, nil without a bias
	if bias != nil {
		ba, bb = bias[:inner], bias[inner:]
		if body > 0 {
			pa, pb = &ba[0], &bb[0]
		}
	}
	for r := 0; r < rows; r++ {
		a := x[2*r*inner : (2*r+1)*inner]
		b := x[(2*r+1)*inner : (2*r+2)*inner]
		out := a // element j read before it is written, here and in the kernels
		if !inPlace {
			out = dst[r*inner : (r+1)*inner]
		}
		if im == ImplGo {
			for j, g := range b {
				v := a[j]
				if bias != nil {
					v, g = v+ba[j], g+bb[j]
				}
				out[j] = v * gelu1(g)
			}
			continue
		}
		if body > 0 {
			gegluAsm(im, &out[0], &a[0], &b[0], pa, pb, body)
		}
		if t := inner - body; t > 0 {
			var ta, tb [16]float32
			copy(ta[:], a[body:])
			copy(tb[:], b[body:])
			if bias != nil {
				for j := 0; j < t; j++ {
					ta[j] += ba[body+j]
					tb[j] += bb[body+j]
				}
			}
			gegluAsm(im, &tb[0], &ta[0], &tb[0], nil, nil, 16)
			copy(out[body:], tb[:t])
		}
	}
}

// ScaleShift sets dst[i] = src[i]·scale + shift (one FMA, rounded once),
// followed by SiLU when silu is set: GroupNorm's per-channel affine step.
// dst must be at least as long as src; the two are the same slice or do
// not overlap.
func ScaleShift(dst, src []float32, scale, shift float32, silu bool) {
	n := len(src)
	dst = dst[:n]
	im := CurrentImpl()
	if im == ImplGo {
		for i, x := range src {
			y := fma32(x, scale, shift)
			if silu {
				y = silu1(y)
			}
			dst[i] = y
		}
		return
	}
	s := 0
	if silu {
		s = 1
	}
	body := n &^ 15
	if body > 0 {
		scaleShiftAsm(im, &dst[0], &src[0], body, scale, shift, s)
	}
	if t := n - body; t > 0 {
		var buf [16]float32
		copy(buf[:], src[body:])
		scaleShiftAsm(im, &buf[0], &buf[0], 16, scale, shift, s)
		copy(dst[body:], buf[:t])
	}
}

// SoftmaxScaled sets row[:n] = softmax(row[:n]·scale) and row[n:] = 0
// (causal masking). With y = float32(x·scale) and m = max y, each element
// becomes exp(y-m) (the same bits as Exp) times 1/Σexp, the sum taken in
// float32 over 16 lanes (element i into lane i mod 16, in order) combined
// pairwise. A NaN or +Inf in row[:n] makes the whole row NaN, as in
// PyTorch; so does a row that is all -Inf.
func SoftmaxScaled(row []float32, n int, scale float32) {
	if n < 0 || n > len(row) {
		panic(fmt.Sprintf("vmath: softmax over %d of %d elements", n, len(row)))
	}
	x := row[:n]
	clear(row[n:])
	if n == 0 {
		return
	}
	im := CurrentImpl()
	body := 0
	if im != ImplGo {
		body = n &^ 15
	}

	var lanes [16]float32
	for j := range lanes {
		lanes[j] = float32(math.Inf(-1))
	}
	if body > 0 {
		maxScaledAsm(im, &x[0], body, scale, &lanes)
	}
	for i := body; i < n; i++ {
		lanes[i&15] = max86(lanes[i&15], float32(x[i]*scale))
	}
	for w := 8; w > 0; w >>= 1 {
		for j := 0; j < w; j++ {
			lanes[j] = max86(lanes[j], lanes[j+w])
		}
	}
	m := lanes[0]

	var acc [16]float32
	if body > 0 {
		expSumAsm(im, &x[0], body, scale, m, &acc)
	}
	if im == ImplGo {
		for i, v := range x {
			e := exp1(float32(v*scale) - m)
			x[i] = e
			acc[i&15] += e
		}
	} else if t := n - body; t > 0 {
		// The tail through the same kernel, its sums taken here.
		var buf, scratch [16]float32
		copy(buf[:], x[body:])
		expSumAsm(im, &buf[0], 16, scale, m, &scratch)
		for i := 0; i < t; i++ {
			acc[(body+i)&15] += buf[i]
		}
		copy(x[body:], buf[:t])
	}
	for w := 8; w > 0; w >>= 1 {
		for j := 0; j < w; j++ {
			acc[j] += acc[j+w]
		}
	}
	inv := 1 / acc[0]

	if body > 0 {
		mulAsm(im, &x[0], body, inv)
	}
	for i := body; i < n; i++ {
		x[i] *= inv
	}
}

// Sum returns the sum of v, accumulated in float64 over 32 lanes (element
// i into lane i mod 32, in order) combined pairwise. The result depends
// only on the values of v, not on where v lies in memory or on the kernel
// set.
func Sum(v []float32) float64 {
	var acc [32]float64
	body := 0
	if im := CurrentImpl(); im != ImplGo {
		body = len(v) &^ 31
		if body > 0 {
			sumAsm(im, &v[0], body, &acc)
		}
	}
	for i := body; i < len(v); i++ {
		acc[i&31] += float64(v[i])
	}
	return combine(&acc)
}

// SumSqDiff returns Σ (v[i]-c)² with v[i]-c and the sum in float64 (each
// term one FMA), in the lanes of Sum.
func SumSqDiff(v []float32, c float64) float64 {
	var acc [32]float64
	body := 0
	if im := CurrentImpl(); im != ImplGo {
		body = len(v) &^ 31
		if body > 0 {
			sumSqDiffAsm(im, &v[0], body, c, &acc)
		}
	}
	for i := body; i < len(v); i++ {
		d := float64(v[i]) - c
		acc[i&31] = math.FMA(d, d, acc[i&31])
	}
	return combine(&acc)
}

// Moments returns the mean and the biased variance (the second central
// moment) of v, in two float64 passes: mean = Sum/n, then
// variance = SumSqDiff(v, mean)/n. Empty v gives NaN, NaN.
func Moments(v []float32) (mean, variance float64) {
	n := float64(len(v))
	mean = Sum(v) / n
	return mean, SumSqDiff(v, mean) / n
}

// combine adds the 32 lanes pairwise: lane j += lane j+w for w = 16..1.
func combine(acc *[32]float64) float64 {
	for w := 16; w > 0; w >>= 1 {
		for j := 0; j < w; j++ {
			acc[j] += acc[j+w]
		}
	}
	return acc[0]
}
