package sampler

// dpmSolver mirrors DPMSolverMultistepScheduler as SD pipelines configure it:
// algorithm_type dpmsolver++, solver_order 2, solver_type midpoint,
// lower_order_final, final_sigmas_type zero (so the last step is first
// order and lands on the denoised estimate).
type dpmSolver struct {
	ts     []int
	sigmas []float32 // len(ts)+1, last 0
	v      bool      // v_prediction

	prevX0     []float32 // data prediction of the previous step (model_outputs[-2])
	lowerOrder int       // lower_order_nums
}

func newDPMSolver(s *schedule, cfg Config, opt Options) (Sampler, error) {
	n := opt.Steps
	T := s.T
	// lambda_min_clipped is -inf in every SD config, so last_timestep = T.
	var ts []int
	switch opt.Spacing {
	case "linspace":
		v := npLinspace(0, float64(T-1), n+1)
		for i := n; i >= 1; i-- {
			ts = append(ts, int(roundHalfEven(v[i])))
		}
	case "leading":
		ratio := T / (n + 1)
		for i := n; i >= 1; i-- {
			ts = append(ts, i*ratio+cfg.StepsOffset)
		}
	case "trailing":
		for _, v := range npArange(float64(T), 0, -float64(T)/float64(n)) {
			ts = append(ts, int(roundHalfEven(v))-1)
		}
	}
	if len(ts) != n {
		return nil, errSpacing(opt.Spacing, len(ts), n)
	}
	for _, t := range ts {
		if t < 0 || t >= T {
			return nil, errRange(t, T)
		}
	}
	train := trainSigmas(s.acp)
	sig := make([]float64, n)
	if opt.Karras {
		logs := make([]float32, len(train))
		for i, v := range train {
			logs[i] = log32(v)
		}
		sig = karrasSigmas(float64(train[0]), float64(train[T-1]), n)
		for i, sg := range sig {
			ts[i] = int(roundHalfEven(sigmaToT(sg, logs)))
		}
	} else {
		fp := make([]float64, len(train))
		for i, v := range train {
			fp[i] = float64(v)
		}
		for i, t := range ts {
			sig[i] = npInterp(float64(t), fp)
		}
	}
	d := &dpmSolver{ts: ts, sigmas: make([]float32, n+1), v: s.v}
	for i, v := range sig {
		d.sigmas[i] = float32(v)
	}
	return d, nil
}

func (d *dpmSolver) Len() int                                     { return len(d.ts) }
func (d *dpmSolver) Timestep(i int) float64                       { return float64(d.ts[i]) }
func (d *dpmSolver) InitNoiseSigma() float32                      { return 1 }
func (d *dpmSolver) ScaleModelInput(x []float32, i int) []float32 { return x }

// alphaSigma is _sigma_to_alpha_sigma_t: alpha_t = 1/sqrt(sigma^2+1),
// sigma_t = sigma*alpha_t, and lambda = log(alpha_t) - log(sigma_t) with
// torch's (SLEEF) log.
func alphaSigma(sigma float32) (alpha, sig, lambda float32) {
	alpha = 1 / sqrt32(float32(sigma*sigma)+1)
	sig = float32(sigma * alpha)
	lambda = sleefLogf(alpha) - sleefLogf(sig)
	return alpha, sig, lambda
}

func (d *dpmSolver) Step(eps, x []float32, i int, _ Noise) []float32 {
	checkStep("dpmpp_2m", i, len(d.ts), eps, x)
	n := len(x)
	// convert_model_output: the data prediction x0.
	aS, sS, lS := alphaSigma(d.sigmas[i])
	x0 := make([]float32, n)
	for j := range x {
		if d.v {
			x0[j] = float32(aS*x[j]) - float32(sS*eps[j])
		} else {
			x0[j] = (x[j] - float32(sS*eps[j])) / aS
		}
	}
	aT, sT, lT := alphaSigma(d.sigmas[i+1])
	h := lT - lS
	// At the final sigma 0, lambda_t = +inf, exp(-h) = 0 and the step
	// returns x0 exactly, as in torch.
	expm1 := sleefExpf(-h) - 1
	ratio := sT / sS
	coef0 := float32(aT * expm1)
	last := i == len(d.ts)-1 // final_sigmas_type zero: last step is first order
	out := make([]float32, n)
	if d.lowerOrder < 1 || last || d.prevX0 == nil {
		for j := range x {
			out[j] = float32(ratio*x[j]) - float32(coef0*x0[j])
		}
	} else {
		_, _, lS1 := alphaSigma(d.sigmas[i-1])
		h0 := lS - lS1
		r0 := h0 / h
		inv := 1 / r0
		half := float32(0.5 * coef0)
		m1 := d.prevX0
		for j := range x {
			d1 := float32(inv * (x0[j] - m1[j]))
			out[j] = (float32(ratio*x[j]) - float32(coef0*x0[j])) - float32(half*d1)
		}
	}
	d.prevX0 = x0
	if d.lowerOrder < 2 {
		d.lowerOrder++
	}
	return out
}
