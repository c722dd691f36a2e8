package sampler

// pndm mirrors PNDMScheduler with skip_prk_steps=True: pseudo linear
// multistep (PLMS) from the first call, which needs one extra model call
// (the second timestep is repeated) to bootstrap the history.
type pndm struct {
	s          *schedule
	ts         []int // the plms timesteps, Steps+1 of them (1 for Steps == 1)
	stepRatio  int
	finalAlpha float32

	counter   int         // number of Step calls so far
	ets       [][]float32 // last model outputs (at most 4)
	curSample []float32   // the sample kept across the bootstrap pair
}

func newPNDM(s *schedule, cfg Config, opt Options) (Sampler, error) {
	n := opt.Steps
	base := make([]int, 0, n) // ascending _timesteps
	switch opt.Spacing {
	case "leading":
		ratio := s.T / n
		for i := 0; i < n; i++ {
			base = append(base, i*ratio+cfg.StepsOffset)
		}
	case "linspace":
		for _, v := range npLinspace(0, float64(s.T-1), n) {
			base = append(base, int(roundHalfEven(v)))
		}
	case "trailing":
		ar := npArange(float64(s.T), 0, -float64(s.T)/float64(n))
		for i := len(ar) - 1; i >= 0; i-- {
			base = append(base, int(roundHalfEven(ar[i]))-1)
		}
	}
	if len(base) != n {
		return nil, errSpacing(opt.Spacing, len(base), n)
	}
	for _, t := range base {
		if t < 0 || t >= s.T {
			return nil, errRange(t, s.T)
		}
	}
	// plms = concat(_ts[:-1], _ts[-2:-1], _ts[-1:]) reversed.
	plms := append([]int(nil), base[:n-1]...)
	if n >= 2 {
		plms = append(plms, base[n-2])
	}
	plms = append(plms, base[n-1])
	for i, j := 0, len(plms)-1; i < j; i, j = i+1, j-1 {
		plms[i], plms[j] = plms[j], plms[i]
	}
	setOne := false // PNDMScheduler's default
	if cfg.SetAlphaToOne != nil {
		setOne = *cfg.SetAlphaToOne
	}
	final := s.acp[0]
	if setOne {
		final = 1
	}
	return &pndm{s: s, ts: plms, stepRatio: s.T / n, finalAlpha: final}, nil
}

func (p *pndm) Len() int                                     { return len(p.ts) }
func (p *pndm) Timestep(i int) float64                       { return float64(p.ts[i]) }
func (p *pndm) InitNoiseSigma() float32                      { return 1 }
func (p *pndm) ScaleModelInput(x []float32, i int) []float32 { return x }

func (p *pndm) Step(eps, x []float32, i int, _ Noise) []float32 {
	checkStep("pndm", i, len(p.ts), eps, x)
	t := p.ts[i]
	prev := t - p.stepRatio
	if p.counter != 1 {
		if len(p.ets) > 3 {
			p.ets = p.ets[len(p.ets)-3:]
		}
		p.ets = append(p.ets, append([]float32(nil), eps...))
	} else {
		// The repeated timestep: redo the first step with the averaged output.
		prev = t
		t += p.stepRatio
	}
	n := len(x)
	mo := make([]float32, n)
	sample := x
	e := p.ets
	k := len(e)
	switch {
	case k == 1 && p.counter == 0:
		copy(mo, eps)
		p.curSample = append([]float32(nil), x...)
	case k == 1 && p.counter == 1:
		for j := range mo {
			mo[j] = (eps[j] + e[0][j]) / 2
		}
		sample = p.curSample
		p.curSample = nil
	case k == 2:
		for j := range mo {
			mo[j] = (float32(3*e[1][j]) - e[0][j]) / 2
		}
	case k == 3:
		for j := range mo {
			mo[j] = (float32(float32(23*e[2][j])-float32(16*e[1][j])) + float32(5*e[0][j])) / 12
		}
	default:
		const c = float32(1.0 / 24)
		for j := range mo {
			s := float32(float32(float32(55*e[3][j])-float32(59*e[2][j]))+float32(37*e[1][j])) - float32(9*e[0][j])
			mo[j] = c * s
		}
	}
	out := p.prevSample(sample, t, prev, mo)
	p.counter++
	return out
}

// prevSample is PNDM's _get_prev_sample (formula (9) of the PNDM paper).
func (p *pndm) prevSample(x []float32, t, prev int, mo []float32) []float32 {
	aT := p.s.acp[t]
	aPrev := p.finalAlpha
	if prev >= 0 {
		aPrev = p.s.acp[prev]
	}
	bT := 1 - aT
	bPrev := 1 - aPrev
	sampleCoef := sqrt32(aPrev / aT)
	denom := float32(aT*sqrt32(bPrev)) + sqrt32(float32(float32(aT*bT)*aPrev))
	diff := aPrev - aT
	if p.s.v {
		// model_output = alpha_prod_t**0.5 * model_output + beta_prod_t**0.5 * sample
		sa, sb := sqrt32(aT), sqrt32(bT)
		e := make([]float32, len(mo))
		for j := range mo {
			e[j] = float32(sa*mo[j]) + float32(sb*x[j])
		}
		mo = e
	}
	out := make([]float32, len(x))
	for j := range x {
		out[j] = float32(sampleCoef*x[j]) - float32(diff*mo[j])/denom
	}
	return out
}
