package sampler

import "fmt"

// Image-to-image support: diffusers' img2img and inpaint pipelines run only
// the tail of the schedule and start from noised image latents. With
//
//	n := sampler.StrengthStart(steps, strength) // t_start
//	s = sampler.Skip(s, n)                      // timesteps[n:], set_begin_index(n)
//	x := s.AddNoise(x0, noise, 0)               // the starting latents
//
// the loop is then the text-to-image one over s.Len() calls.

// StrengthStart is diffusers' get_timesteps: the number of leading calls
// that img2img skips for a denoising strength in (0, 1],
// steps - min(int(steps*strength), steps), the product taken in float64 and
// truncated as Python does (20 * 0.3 -> 6 calls run, 14 skipped).
func StrengthStart(steps int, strength float64) int {
	run := min(int(float64(steps)*strength), steps)
	return max(steps-run, 0)
}

// Skip returns s started at call n of its schedule: call i of the result is
// call n+i of s (timesteps[n:] and, for the sigma samplers, set_begin_index(n),
// which is the same thing here). Multistep history starts empty at the first
// call, as in diffusers. n must be in [0, s.Len()).
func Skip(s Sampler, n int) Sampler {
	if n < 0 || n >= s.Len() {
		panic(fmt.Sprintf("sampler: Skip(%d) outside [0, %d)", n, s.Len()))
	}
	if n == 0 {
		return s
	}
	return &skipped{s, n}
}

type skipped struct {
	s Sampler
	n int
}

func (k *skipped) Len() int                { return k.s.Len() - k.n }
func (k *skipped) Timestep(i int) float64  { return k.s.Timestep(i + k.n) }
func (k *skipped) InitNoiseSigma() float32 { return k.s.InitNoiseSigma() }
func (k *skipped) ScaleModelInput(x []float32, i int) []float32 {
	return k.s.ScaleModelInput(x, i+k.n)
}
func (k *skipped) Step(eps, x []float32, i int, noise Noise) []float32 {
	if i < 0 || i >= k.Len() {
		panic(fmt.Sprintf("sampler: call index %d outside [0, %d)", i, k.Len()))
	}
	return k.s.Step(eps, x, i+k.n, noise)
}
func (k *skipped) AddNoise(x0, noise []float32, i int) []float32 {
	return k.s.AddNoise(x0, noise, i+k.n)
}

// addNoiseAlpha is add_noise of DDIM, DDPM and PNDM at train timestep t:
// sqrt(acp[t])*x0 + sqrt(1-acp[t])*noise, in float32 as torch computes it.
func addNoiseAlpha(s *schedule, t int, x0, noise []float32) []float32 {
	checkNoise(x0, noise)
	a := s.acp[t]
	sa, sb := sqrt32(a), sqrt32(1-a)
	out := make([]float32, len(x0))
	for j := range x0 {
		out[j] = float32(sa*x0[j]) + float32(sb*noise[j])
	}
	return out
}

// addNoiseSigma is add_noise of the Euler family: x0 + noise*sigma.
func addNoiseSigma(sigma float32, x0, noise []float32) []float32 {
	checkNoise(x0, noise)
	out := make([]float32, len(x0))
	for j := range x0 {
		out[j] = x0[j] + float32(noise[j]*sigma)
	}
	return out
}

func checkNoise(x0, noise []float32) {
	if len(x0) != len(noise) {
		panic(fmt.Sprintf("sampler: add_noise: %d noise values for %d latents", len(noise), len(x0)))
	}
}

func checkIndex(i, n int) {
	if i < 0 || i >= n {
		panic(fmt.Sprintf("sampler: add_noise: call index %d outside [0, %d)", i, n))
	}
}

func (d *ddim) AddNoise(x0, noise []float32, i int) []float32 {
	checkIndex(i, len(d.ts))
	return addNoiseAlpha(d.s, d.ts[i], x0, noise)
}

func (d *ddpm) AddNoise(x0, noise []float32, i int) []float32 {
	checkIndex(i, len(d.ts))
	return addNoiseAlpha(d.s, d.ts[i], x0, noise)
}

func (p *pndm) AddNoise(x0, noise []float32, i int) []float32 {
	checkIndex(i, len(p.ts))
	return addNoiseAlpha(p.s, p.ts[i], x0, noise)
}

// AddNoise of Euler, Euler ancestral and LMS uses sigmas[i] (the step index
// or begin index), not the init_noise_sigma factor.
func (q *sigmaSchedule) AddNoise(x0, noise []float32, i int) []float32 {
	checkIndex(i, len(q.ts))
	return addNoiseSigma(q.sigmas[i], x0, noise)
}

// AddNoise of DPM-Solver++ is alpha_t*x0 + sigma_t*noise at sigmas[i].
func (d *dpmSolver) AddNoise(x0, noise []float32, i int) []float32 {
	checkIndex(i, len(d.ts))
	checkNoise(x0, noise)
	a, s, _ := alphaSigma(d.sigmas[i])
	out := make([]float32, len(x0))
	for j := range x0 {
		out[j] = float32(a*x0[j]) + float32(s*noise[j])
	}
	return out
}
