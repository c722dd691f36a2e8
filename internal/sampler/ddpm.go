package sampler

// ddpm mirrors DDPMScheduler with variance_type "fixed_small" (what SD's
// config resolves to): ancestral sampling with noise drawn whenever t > 0.
type ddpm struct {
	s         *schedule
	ts        []int
	stepRatio int
	clip      bool
	clipRange float32
}

func newDDPM(s *schedule, cfg Config, opt Options) (Sampler, error) {
	ts, err := discreteTimesteps(s.T, opt.Steps, cfg.StepsOffset, opt.Spacing)
	if err != nil {
		return nil, err
	}
	return &ddpm{s: s, ts: ts, stepRatio: s.T / opt.Steps, clip: cfg.ClipSample, clipRange: float32(cfg.ClipSampleRange)}, nil
}

func (d *ddpm) Len() int                                     { return len(d.ts) }
func (d *ddpm) Timestep(i int) float64                       { return float64(d.ts[i]) }
func (d *ddpm) InitNoiseSigma() float32                      { return 1 }
func (d *ddpm) ScaleModelInput(x []float32, i int) []float32 { return x }

func (d *ddpm) Step(eps, x []float32, i int, noise Noise) []float32 {
	checkStep("ddpm", i, len(d.ts), eps, x)
	t := d.ts[i]
	prev := t - d.stepRatio
	aT := d.s.acp[t]
	aPrev := float32(1) // self.one
	if prev >= 0 {
		aPrev = d.s.acp[prev]
	}
	bT := 1 - aT
	bPrev := 1 - aPrev
	curAlpha := aT / aPrev
	curBeta := 1 - curAlpha
	sqrtBT, sqrtAT := sqrt32(bT), sqrt32(aT)
	x0Coef := float32(sqrt32(aPrev)*curBeta) / bT
	xCoef := float32(sqrt32(curAlpha)*bPrev) / bT

	out := make([]float32, len(x))
	for j := range x {
		x0 := d.s.predictedX0(x[j], eps[j], sqrtAT, sqrtBT)
		if d.clip {
			x0 = clamp32(x0, -d.clipRange, d.clipRange)
		}
		out[j] = float32(x0Coef*x0) + float32(xCoef*x[j])
	}
	if t > 0 {
		z := mustNoise("ddpm", noise, len(x))
		// _get_variance: (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev),
		// clamped at 1e-20, then its square root scales the noise.
		v := float32((1-aPrev)/(1-aT)) * (1 - aT/aPrev)
		if v < 1e-20 {
			v = 1e-20
		}
		sd := sqrt32(v)
		for j := range out {
			out[j] += float32(sd * z[j])
		}
	}
	return out
}
