package sampler

import "math"

// float32 helpers. Every one rounds once, like the torch CPU kernel (or libm
// call) it stands for; products are written as float32(a*b) wherever a sum
// follows so that the Go compiler cannot fuse them into an FMA, which torch's
// separate element-wise kernels never do.

func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// predictedX0 is the clean sample that the model output out (noise, or v)
// implies for x at a timestep with sqrt(alpha_bar) sqrtA and
// sqrt(1-alpha_bar) sqrtB, in float32 as diffusers computes it.
func (s *schedule) predictedX0(x, out, sqrtA, sqrtB float32) float32 {
	if s.v {
		return float32(sqrtA*x) - float32(sqrtB*out)
	}
	return (x - float32(sqrtB*out)) / sqrtA
}
func log32(x float32) float32 { return float32(math.Log(float64(x))) }

// fma32 is a float32 fused multiply-add rounded once: the exact float64
// product plus c is summed with round-to-odd so that the final float32
// rounding is not a double rounding.
func fma32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cc := float64(c)
	s := p + cc
	bv := s - p
	e := (p - (s - bv)) + (cc - bv)
	if e != 0 && math.Float64bits(s)&1 == 0 {
		if (e > 0) == (s > 0) {
			s = math.Float64frombits(math.Float64bits(s) + 1)
		} else {
			s = math.Float64frombits(math.Float64bits(s) - 1)
		}
	}
	return float32(s)
}

// torchLinspace32 is torch.linspace(start, end, steps, dtype=float32) as
// torch 1.13's AVX2 CPU kernel computes it: a float32 step; the first half
// counted up from start and the second half down from end; vector chunks of
// 8 (base + k*step) two at a time while 16 elements remain, then scalars.
// The kernel is built with FP contraction, so every a + b*c is one FMA.
func torchLinspace32(start64, end64 float64, steps int) []float32 {
	out := make([]float32, steps)
	if steps == 1 {
		out[0] = float32(start64)
		return out
	}
	start, end := float32(start64), float32(end64)
	step := (end - start) / float32(steps-1)
	half := steps / 2
	scalar := func(idx int) float32 {
		if idx < half {
			return fma32(step, float32(idx), start)
		}
		return fma32(-step, float32(steps-idx-1), end)
	}
	i := 0
	for ; i+16 <= steps; i += 16 {
		for _, c := range [2]int{i, i + 8} {
			base := scalar(c)
			for k := 0; k < 8; k++ {
				out[c+k] = fma32(float32(k), step, base)
			}
		}
	}
	for ; i < steps; i++ {
		out[i] = scalar(i)
	}
	return out
}

// trainSchedule returns betas and alphas_cumprod in float32 as diffusers
// builds them (torch.linspace, **2, 1 - betas, torch.cumprod).
func trainSchedule(cfg Config) (betas, alphasCumprod []float32) {
	n := cfg.NumTrainTimesteps
	switch cfg.BetaSchedule {
	case "scaled_linear":
		betas = torchLinspace32(math.Sqrt(cfg.BetaStart), math.Sqrt(cfg.BetaEnd), n)
		for i, b := range betas {
			betas[i] = b * b
		}
	default: // linear; validate rejected the rest
		betas = torchLinspace32(cfg.BetaStart, cfg.BetaEnd, n)
	}
	alphasCumprod = make([]float32, n)
	// torch's CPU cumprod accumulates in double (acc_type of float) and
	// stores each prefix rounded to float32.
	acc := 1.0
	for i, b := range betas {
		acc *= float64(1 - b)
		alphasCumprod[i] = float32(acc)
	}
	return betas, alphasCumprod
}

// trainSigmas is ((1 - acp) / acp) ** 0.5 in float32, ascending in t.
func trainSigmas(acp []float32) []float32 {
	s := make([]float32, len(acp))
	for i, a := range acp {
		s[i] = sqrt32((1 - a) / a)
	}
	return s
}

// npLinspace is numpy.linspace(start, stop, num) in float64.
func npLinspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	if num == 1 {
		out[0] = start
		return out
	}
	div := float64(num - 1)
	delta := stop - start
	step := delta / div
	for i := range out {
		if step == 0 {
			out[i] = float64(float64(i)/div*delta) + start
		} else {
			out[i] = float64(float64(i)*step) + start
		}
	}
	out[num-1] = stop
	return out
}

// npArange is numpy.arange(start, stop, step) for float64: the length is
// ceil((stop-start)/step) and element i is start + i*((start+step)-start),
// which is how numpy fills it.
func npArange(start, stop, step float64) []float64 {
	n := int(math.Ceil((stop - start) / step))
	if n <= 0 {
		return nil
	}
	out := make([]float64, n)
	out[0] = start
	if n > 1 {
		next := start + step
		d := next - start
		out[1] = next
		for i := 2; i < n; i++ {
			out[i] = start + float64(float64(i)*d)
		}
	}
	return out
}

// npInterp is numpy.interp(x, arange(len(fp)), fp) for x within range.
func npInterp(x float64, fp []float64) float64 {
	last := len(fp) - 1
	switch {
	case x > float64(last):
		return fp[last]
	case x < 0:
		return fp[0]
	case x == float64(last):
		return fp[last]
	}
	j := int(math.Floor(x))
	if float64(j) == x {
		return fp[j]
	}
	slope := (fp[j+1] - fp[j]) / (float64(j+1) - float64(j))
	return float64(slope*(x-float64(j))) + fp[j]
}

// karrasSigmas is diffusers' _convert_to_karras with rho 7: evenly spaced in
// sigma^(1/7) from sigmaMax down to sigmaMin, in float64.
func karrasSigmas(sigmaMin, sigmaMax float64, n int) []float64 {
	const rho = 7.0
	ramp := npLinspace(0, 1, n)
	minInv := math.Pow(sigmaMin, 1/rho)
	maxInv := math.Pow(sigmaMax, 1/rho)
	out := make([]float64, n)
	for i, r := range ramp {
		out[i] = math.Pow(maxInv+float64(r*(minInv-maxInv)), rho)
	}
	return out
}

// sigmaToT is diffusers' _sigma_to_t: the fractional training timestep
// whose log-sigma matches, by linear interpolation in log sigma. logSigmas
// are float32 (numpy's log of the float32 sigmas), the rest float64.
func sigmaToT(sigma float64, logSigmas []float32) float64 {
	logSigma := math.Log(math.Max(sigma, 1e-10))
	low := 0
	for j, ls := range logSigmas {
		if logSigma-float64(ls) >= 0 {
			low = j
		}
	}
	if low > len(logSigmas)-2 {
		low = len(logSigmas) - 2
	}
	lo, hi := float64(logSigmas[low]), float64(logSigmas[low+1])
	w := (lo - logSigma) / (lo - hi)
	w = math.Min(math.Max(w, 0), 1)
	return float64((1-w)*float64(low)) + float64(w*float64(low+1))
}
