package sampler

// ddim mirrors DDIMScheduler (eta as the step argument, variance noise from
// the generator only when eta > 0).
type ddim struct {
	s          *schedule
	ts         []int
	stepRatio  int     // num_train_timesteps // num_inference_steps
	finalAlpha float32 // alphas_cumprod "before" t=0 (set_alpha_to_one)
	eta        float32
	etaPos     bool
	clip       bool
	clipRange  float32
}

func newDDIM(s *schedule, cfg Config, opt Options) (Sampler, error) {
	ts, err := discreteTimesteps(s.T, opt.Steps, cfg.StepsOffset, opt.Spacing)
	if err != nil {
		return nil, err
	}
	setOne := true // DDIMScheduler's default
	if cfg.SetAlphaToOne != nil {
		setOne = *cfg.SetAlphaToOne
	}
	final := s.acp[0]
	if setOne {
		final = 1
	}
	return &ddim{
		s: s, ts: ts, stepRatio: s.T / opt.Steps, finalAlpha: final,
		eta: float32(opt.Eta), etaPos: opt.Eta > 0,
		clip: cfg.ClipSample, clipRange: float32(cfg.ClipSampleRange),
	}, nil
}

func (d *ddim) Len() int                                     { return len(d.ts) }
func (d *ddim) Timestep(i int) float64                       { return float64(d.ts[i]) }
func (d *ddim) InitNoiseSigma() float32                      { return 1 }
func (d *ddim) ScaleModelInput(x []float32, i int) []float32 { return x }

func (d *ddim) Step(eps, x []float32, i int, noise Noise) []float32 {
	checkStep("ddim", i, len(d.ts), eps, x)
	t := d.ts[i]
	prev := t - d.stepRatio
	aT := d.s.acp[t]
	aPrev := d.finalAlpha
	if prev >= 0 {
		aPrev = d.s.acp[prev]
	}
	bT := 1 - aT
	sqrtBT, sqrtAT := sqrt32(bT), sqrt32(aT)

	// _get_variance, then std_dev_t = eta * variance ** 0.5.
	bPrev := 1 - aPrev
	variance := float32(bPrev/bT) * (1 - aT/aPrev)
	std := float32(d.eta * sqrt32(variance))
	dirCoef := sqrt32((1 - aPrev) - float32(std*std))
	sqrtAPrev := sqrt32(aPrev)

	out := make([]float32, len(x))
	for j := range x {
		x0, pe := d.s.predictedX0(x[j], eps[j], sqrtAT, sqrtBT), eps[j]
		if d.s.v {
			pe = float32(sqrtAT*eps[j]) + float32(sqrtBT*x[j])
		}
		if d.clip {
			x0 = clamp32(x0, -d.clipRange, d.clipRange)
		}
		out[j] = float32(sqrtAPrev*x0) + float32(dirCoef*pe)
	}
	if d.etaPos {
		z := mustNoise("ddim", noise, len(x))
		for j := range out {
			out[j] += float32(std * z[j])
		}
	}
	return out
}

func clamp32(v, lo, hi float32) float32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
