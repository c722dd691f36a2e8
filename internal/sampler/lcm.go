package sampler

import "fmt"

// lcm mirrors LCMScheduler, the latent consistency models' multistep
// sampler: timesteps picked from a coarse "original" schedule, each step a
// consistency-function estimate of the clean latents (with the boundary
// condition's c_skip and c_out), noised afresh to the next timestep except
// on the last step. It ignores steps_offset and timestep_spacing, as
// diffusers does.
type lcm struct {
	s         *schedule
	ts        []int
	cSkip     []float32 // per call
	cOut      []float32
	clip      bool
	clipRange float32
}

// LCMScheduler's class defaults, which an SD model's scheduler config
// does not set.
const (
	lcmOriginalSteps   = 50
	lcmTimestepScaling = 10.0
	lcmSigmaData       = 0.5
)

func newLCM(s *schedule, cfg Config, opt Options) (Sampler, error) {
	orig := lcmOriginalSteps
	if cfg.OriginalInferenceSteps > 0 {
		orig = cfg.OriginalInferenceSteps
	}
	scaling := lcmTimestepScaling
	if cfg.TimestepScaling > 0 {
		scaling = cfg.TimestepScaling
	}
	ts, err := lcmTimesteps(s.T, opt.Steps, orig)
	if err != nil {
		return nil, err
	}
	l := &lcm{s: s, ts: ts, clip: cfg.ClipSample, clipRange: float32(cfg.ClipSampleRange)}
	for _, t := range ts {
		// torch: long timestep * python float -> float32, then float32 math.
		st := float32(float32(t) * float32(scaling))
		d := float32(st*st) + lcmSigmaData*lcmSigmaData
		l.cSkip = append(l.cSkip, lcmSigmaData*lcmSigmaData/d)
		l.cOut = append(l.cOut, st/sqrt32(d))
	}
	return l, nil
}

// lcmTimesteps is LCMScheduler.set_timesteps(n) at strength 1: the origin
// schedule k-1, 2k-1, ..., orig*k-1 (k = T // orig), reversed, sampled at
// floor(linspace(0, orig, n, endpoint=False)).
func lcmTimesteps(T, n, orig int) ([]int, error) {
	if orig < 1 || orig > T {
		return nil, fmt.Errorf("sampler: lcm: original_inference_steps %d outside 1..%d", orig, T)
	}
	if n > orig {
		return nil, fmt.Errorf("sampler: lcm: %d steps exceed original_inference_steps %d", n, orig)
	}
	k := T / orig
	ts := make([]int, n)
	for i := range ts {
		// np.linspace(0, orig, n, endpoint=False)[i] = i * (orig / n), floored.
		idx := int(float64(i) * (float64(orig) / float64(n)))
		ts[i] = (orig-idx)*k - 1
	}
	return ts, nil
}

func (l *lcm) Len() int                                     { return len(l.ts) }
func (l *lcm) Timestep(i int) float64                       { return float64(l.ts[i]) }
func (l *lcm) InitNoiseSigma() float32                      { return 1 }
func (l *lcm) ScaleModelInput(x []float32, i int) []float32 { return x }

func (l *lcm) Step(out, x []float32, i int, noise Noise) []float32 {
	checkStep("lcm", i, len(l.ts), out, x)
	t := l.ts[i]
	last := i == len(l.ts)-1
	prev := t
	if !last {
		prev = l.ts[i+1]
	}
	aT, aPrev := l.s.acp[t], l.s.acp[prev]
	sqrtAT, sqrtBT := sqrt32(aT), sqrt32(1-aT)
	cSkip, cOut := l.cSkip[i], l.cOut[i]
	den := make([]float32, len(x))
	for j := range x {
		x0 := l.s.predictedX0(x[j], out[j], sqrtAT, sqrtBT)
		if l.clip {
			x0 = clamp32(x0, -l.clipRange, l.clipRange)
		}
		den[j] = float32(cOut*x0) + float32(cSkip*x[j])
	}
	if last {
		return den
	}
	z := mustNoise("lcm", noise, len(x))
	sa, sb := sqrt32(aPrev), sqrt32(1-aPrev)
	for j := range den {
		den[j] = float32(sa*den[j]) + float32(sb*z[j])
	}
	return den
}

func (l *lcm) AddNoise(x0, noise []float32, i int) []float32 {
	return addNoiseAlpha(l.s, l.ts[i], x0, noise)
}
