package sampler

import "math"

// torch 1.13's CPU log and exp on float32 tensors run SLEEF's vector
// routines (Sleef_logf8_u10 / Sleef_expf8_u10, AVX2 with FMA), even for a
// single element: the vml kernels feed the remainder through the vector
// code. Their results are within 1 ulp but not always correctly rounded, and
// the schedulers that take logs and exps of sigmas (DPM-Solver) inherit
// those last bits, so they are emulated here operation by operation.

// fmsub32 is a*b - c rounded once (vfmapn).
func fmsub32(a, b, c float32) float32 { return fma32(a, b, -c) }

// fnmadd32 is c - a*b rounded once (vfmanp).
func fnmadd32(a, b, c float32) float32 { return fma32(-a, b, c) }

// df is SLEEF's double-float: an unevaluated sum hi + lo of two float32s.
type df struct{ hi, lo float32 }

func dfAdd2FF(x, y float32) df {
	s := x + y
	v := s - x
	return df{s, (x - (s - v)) + (y - v)}
}

func dfAddDD(x, y df) df {
	s := x.hi + y.hi
	return df{s, (((x.hi - s) + y.hi) + x.lo) + y.lo}
}

func dfAddDF(x df, y float32) df {
	s := x.hi + y
	return df{s, ((x.hi - s) + y) + x.lo}
}

func dfMulDF(x df, y float32) df {
	s := float32(x.hi * y)
	return df{s, fma32(x.lo, y, fmsub32(x.hi, y, s))}
}

func dfScale(x df, s float32) df { return df{float32(x.hi * s), float32(x.lo * s)} }

func dfDiv(n, d df) df {
	t := 1 / d.hi
	s := float32(n.hi * t)
	u := fmsub32(t, n.hi, s)
	v := fnmadd32(d.lo, t, fnmadd32(d.hi, t, 1))
	return df{s, fma32(s, v, fma32(n.lo, t, u))}
}

// sleefLogf is SLEEF's xlogf_u1 (AVX2, FMA).
func sleefLogf(d float32) float32 {
	switch {
	case math.IsNaN(float64(d)) || d < 0:
		return float32(math.NaN())
	case d == 0:
		return float32(math.Inf(-1))
	case math.IsInf(float64(d), 1):
		return d
	}
	small := d < math.Float32frombits(0x00800000) // FLT_MIN
	if small {
		d = float32(d * (1 << 32) * (1 << 32))
	}
	e := int32((math.Float32bits(float32(d*float32(1.0/0.75)))>>23)&0xff) - 0x7f
	m := math.Float32frombits(uint32(int32(math.Float32bits(d)) - e<<23))
	if small {
		e -= 64
	}
	s := dfMulDF(df{0.69314718246459960938, -1.904654323148236017e-09}, float32(e))
	x := dfDiv(dfAdd2FF(-1, m), dfAdd2FF(1, m))
	x2 := float32(x.hi * x.hi)
	t := float32(0.3027294874)
	t = fma32(t, x2, 0.3996108174)
	t = fma32(t, x2, 0.6666694880)
	s = dfAddDD(s, dfScale(x, 2))
	s = dfAddDF(s, float32(float32(x2*x.hi)*t))
	return s.hi + s.lo
}

// sleefExpf is SLEEF's xexpf (the u10 exp; AVX2, FMA).
func sleefExpf(d float32) float32 {
	switch {
	case math.IsNaN(float64(d)):
		return d
	case d < -104:
		return 0
	case d > 100:
		return float32(math.Inf(1))
	}
	const (
		rLn2 float32 = 1.442695040888963407359924681001892137426645954152985934135449406931
		l2U  float32 = 0.693145751953125
		l2L  float32 = 1.428606765330187045e-06
	)
	q := int32(math.RoundToEven(float64(float32(d * rLn2)))) // cvtps: nearest even
	qf := float32(q)
	s := fma32(qf, -l2U, d)
	s = fma32(qf, -l2L, s)
	u := float32(0.000198527617612853646278381)
	u = fma32(u, s, 0.00139304355252534151077271)
	u = fma32(u, s, 0.00833336077630519866943359)
	u = fma32(u, s, 0.0416664853692054748535156)
	u = fma32(u, s, 0.166666671633720397949219)
	u = fma32(u, s, 0.5)
	u = 1 + fma32(float32(s*s), u, s)
	// vldexp2: two power-of-two multiplies so subnormal results round like
	// the vector code.
	h := q >> 1
	u = float32(u * pow2i(h))
	return float32(u * pow2i(q-h))
}

// pow2i is 2^q for q in the normal exponent range.
func pow2i(q int32) float32 { return math.Float32frombits(uint32(q+0x7f) << 23) }
