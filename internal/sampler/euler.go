package sampler

// sigmaSchedule is the set_timesteps shared by the Euler, Euler ancestral
// and LMS schedulers: float timesteps, sigmas interpolated at them (or
// Karras sigmas and the timesteps they map back to), then a final 0.
type sigmaSchedule struct {
	ts        []float64 // timestep values handed to the UNet
	v         bool      // v_prediction
	sigmas    []float32 // len(ts)+1, last 0
	initSigma float32
}

// newSigmaSchedule runs that set-up. keepT64 leaves Karras timesteps in
// float64 (LMS stores them so); Euler casts them to float32.
func newSigmaSchedule(s *schedule, cfg Config, opt Options, keepT64 bool) (*sigmaSchedule, error) {
	ts64, err := sigmaTimesteps(s.T, opt.Steps, cfg.StepsOffset, opt.Spacing)
	if err != nil {
		return nil, err
	}
	n := len(ts64)
	train := trainSigmas(s.acp)
	fp := make([]float64, len(train))
	for i, v := range train {
		fp[i] = float64(v)
	}
	ts := make([]float64, n)
	sig := make([]float64, n)
	for i, t := range ts64 {
		ts[i] = float64(float32(t)) // numpy casts the timesteps to float32 first
		sig[i] = npInterp(ts[i], fp)
	}
	if opt.Karras {
		sig = karrasSigmas(sig[n-1], sig[0], n)
		logs := make([]float32, len(train))
		for i, v := range train {
			logs[i] = log32(v)
		}
		for i, sg := range sig {
			ts[i] = sigmaToT(sg, logs)
			if !keepT64 {
				ts[i] = float64(float32(ts[i]))
			}
		}
	}
	out := &sigmaSchedule{ts: ts, sigmas: make([]float32, n+1), v: s.v}
	var maxSigma float32
	for i, v := range sig {
		out.sigmas[i] = float32(v)
		if out.sigmas[i] > maxSigma {
			maxSigma = out.sigmas[i]
		}
	}
	// diffusers 0.27.2 uses sigma_max itself for linspace and trailing
	// spacing and sqrt(sigma_max^2 + 1) only for leading.
	out.initSigma = maxSigma
	if opt.Spacing == "leading" {
		out.initSigma = sqrt32(float32(maxSigma*maxSigma) + 1)
	}
	return out, nil
}

func (q *sigmaSchedule) Len() int                { return len(q.ts) }
func (q *sigmaSchedule) Timestep(i int) float64  { return q.ts[i] }
func (q *sigmaSchedule) InitNoiseSigma() float32 { return q.initSigma }

// ScaleModelInput divides by sqrt(sigma^2 + 1), the k-diffusion input scaling.
func (q *sigmaSchedule) ScaleModelInput(x []float32, i int) []float32 {
	s := q.sigmas[i]
	d := sqrt32(float32(s*s) + 1)
	out := make([]float32, len(x))
	for j, v := range x {
		out[j] = v / d
	}
	return out
}

// euler mirrors EulerDiscreteScheduler with s_churn = 0 (no noise added,
// though a draw is still taken every step).
type euler struct{ *sigmaSchedule }

func newEuler(s *schedule, cfg Config, opt Options) (Sampler, error) {
	q, err := newSigmaSchedule(s, cfg, opt, false)
	if err != nil {
		return nil, err
	}
	return &euler{q}, nil
}

func (e *euler) Step(eps, x []float32, i int, noise Noise) []float32 {
	checkStep("euler", i, len(e.ts), eps, x)
	if noise != nil {
		noise.Normal(len(x)) // drawn and unused when s_churn == 0
	}
	sigma := e.sigmas[i]
	dt := e.sigmas[i+1] - sigma
	x0 := sigmaX0(e.v, sigma, eps, x)
	out := make([]float32, len(x))
	for j := range x {
		d := (x[j] - x0[j]) / sigma
		out[j] = x[j] + float32(d*dt)
	}
	return out
}

// eulerAncestral mirrors EulerAncestralDiscreteScheduler: an Euler step to
// sigma_down, then fresh noise of size sigma_up.
type eulerAncestral struct{ *sigmaSchedule }

func newEulerAncestral(s *schedule, cfg Config, opt Options) (Sampler, error) {
	q, err := newSigmaSchedule(s, cfg, opt, false)
	if err != nil {
		return nil, err
	}
	return &eulerAncestral{q}, nil
}

func (e *eulerAncestral) Step(eps, x []float32, i int, noise Noise) []float32 {
	checkStep("euler_a", i, len(e.ts), eps, x)
	from, to := e.sigmas[i], e.sigmas[i+1]
	from2, to2 := float32(from*from), float32(to*to)
	up := sqrt32(float32(to2*(from2-to2)) / from2)
	down := sqrt32(to2 - float32(up*up))
	dt := down - from
	x0 := sigmaX0(e.v, from, eps, x)
	out := make([]float32, len(x))
	for j := range x {
		d := (x[j] - x0[j]) / from
		out[j] = x[j] + float32(d*dt)
	}
	z := mustNoise("euler_a", noise, len(x))
	for j := range out {
		out[j] += float32(z[j] * up)
	}
	return out
}
