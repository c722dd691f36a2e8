// Package sampler implements the diffusion schedulers of Hugging Face
// diffusers 0.27.2 (torch CPU, float32) closely enough that a seeded Go run
// follows the Python one step for step.
//
// Usage, for a text-to-image loop:
//
//	s, err := sampler.New("euler_a", cfg, sampler.Options{Steps: 20})
//	x := g.Normal(4 * h * w)         // torch.randn draw 0 (g: *torchrng.Generator)
//	for j := range x {               // the pipeline scales once, in float32
//		x[j] *= s.InitNoiseSigma()
//	}
//	for i := 0; i < s.Len(); i++ {
//		in := s.ScaleModelInput(x, i)
//		eps := unet(in, s.Timestep(i)) // + classifier-free guidance
//		x = s.Step(eps, x, i, g)       // draws from g when diffusers would
//	}
//
// For image-to-image, Skip starts a sampler part-way (StrengthStart gives
// the call for a denoising strength) and AddNoise makes the starting
// latents; see img2img.go.
//
// Names() lists the samplers: ddim (Options.Eta), ddpm, pndm (PLMS with
// skip_prk_steps, one model call more than Steps when Steps > 1), euler,
// euler_a, dpmpp_2m (DPM-Solver++ 2M), lms (order 4) and lcm (LCMScheduler,
// for LCM and LCM-LoRA models: 2-8 steps, guidance 1-2). Options.Karras
// selects Karras sigmas (rho 7) where diffusers offers them (euler, dpmpp_2m,
// lms) and Options.Spacing overrides the timestep spacing (leading, linspace,
// trailing). A Sampler keeps multistep history, so Step must be called once
// per index, in increasing order; build a new Sampler for every image.
//
// Step draws from the Noise exactly when diffusers' step would draw from the
// generator (euler every step even though the draw is unused, euler_a every
// step, ddpm when t > 0, ddim only with eta > 0, lcm every step but the
// last), so a torchrng.Generator
// passed here stays in step with torch's. A stochastic step with a nil Noise
// panics (euler, whose draw is unused, tolerates nil). Step never modifies its
// arguments and returns a new slice.
//
// The arithmetic mirrors torch's: element-wise float32 operations rounded
// one by one in diffusers' order, schedule set-up in float64 where diffusers
// uses numpy, torch's own float32 linspace and double-accumulated cumprod,
// and SLEEF's log/exp where torch calls them on tensors.
package sampler

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Options are the per-run choices that diffusers takes outside the config.
type Options struct {
	Steps int     // num_inference_steps (pndm makes Steps+1 model calls)
	Eta   float64 // DDIM eta: 0 is deterministic, 1 is DDPM-like; ddim only
	// Karras uses Karras et al. sigmas (use_karras_sigmas=True).
	Karras bool
	// Spacing is "leading", "linspace" or "trailing"; "" keeps the config's
	// timestep_spacing or, without one, the sampler's diffusers default.
	Spacing string
}

// Noise is the random source for stochastic steps; *torchrng.Generator
// satisfies it, and a test can replay recorded draws through it.
type Noise interface {
	Normal(n int) []float32
}

// Sampler is one configured diffusers scheduler after set_timesteps.
type Sampler interface {
	// Len is the number of model calls (pndm: Steps+1 when Steps > 1).
	Len() int
	// Timestep is the timestep value diffusers passes to the UNet at call i.
	Timestep(i int) float64
	// InitNoiseSigma is what the pipeline multiplies the initial noise by.
	InitNoiseSigma() float32
	// ScaleModelInput is scale_model_input for call i; it may return x itself.
	ScaleModelInput(x []float32, i int) []float32
	// Step is scheduler.step(...).prev_sample for call i; it returns a new
	// slice and draws len(x) values from noise when diffusers would.
	Step(modelOut, x []float32, i int, noise Noise) []float32
	// AddNoise is scheduler.add_noise(x0, noise, t) with t the timestep of
	// call i (img2img's starting latents, inpainting's blend); it returns a
	// new slice.
	AddNoise(x0, noise []float32, i int) []float32
}

type constructor struct {
	karras bool   // diffusers supports use_karras_sigmas for this class
	family string // "discrete" (ddim/ddpm/pndm) or "sigma" for default spacing
	build  func(s *schedule, cfg Config, opt Options) (Sampler, error)
}

var samplers = map[string]constructor{
	"ddim":     {family: "discrete", build: newDDIM},
	"ddpm":     {family: "discrete", build: newDDPM},
	"pndm":     {family: "discrete", build: newPNDM},
	"euler":    {family: "sigma", karras: true, build: newEuler},
	"euler_a":  {family: "sigma", build: newEulerAncestral},
	"dpmpp_2m": {family: "sigma", karras: true, build: newDPMSolver},
	"lms":      {family: "sigma", karras: true, build: newLMS},
	"lcm":      {family: "discrete", build: newLCM},
}

// Names lists the sampler names New accepts, sorted.
func Names() []string {
	out := make([]string, 0, len(samplers))
	for n := range samplers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// classNames maps diffusers scheduler classes to the sampler that mirrors them.
var classNames = map[string]string{
	"DDIMScheduler":                   "ddim",
	"DDPMScheduler":                   "ddpm",
	"PNDMScheduler":                   "pndm",
	"EulerDiscreteScheduler":          "euler",
	"EulerAncestralDiscreteScheduler": "euler_a",
	"DPMSolverMultistepScheduler":     "dpmpp_2m",
	"LMSDiscreteScheduler":            "lms",
	"LCMScheduler":                    "lcm",
}

// NameForClass returns the sampler for a config's _class_name, so a model
// folder can run with the scheduler it ships; ok is false for other classes.
func NameForClass(class string) (name string, ok bool) {
	name, ok = classNames[class]
	return name, ok
}

// New builds the named sampler for cfg and runs set_timesteps(opt.Steps).
func New(name string, cfg Config, opt Options) (Sampler, error) {
	c, ok := samplers[name]
	if !ok {
		return nil, fmt.Errorf("sampler: unknown sampler %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	switch cfg.PredictionType {
	case "epsilon":
	case "v_prediction":
	default:
		return nil, fmt.Errorf("sampler: prediction_type %q is not supported (want epsilon or v_prediction)", cfg.PredictionType)
	}
	if opt.Steps < 1 {
		return nil, fmt.Errorf("sampler: %s: steps must be at least 1, got %d", name, opt.Steps)
	}
	if opt.Steps > cfg.NumTrainTimesteps {
		return nil, fmt.Errorf("sampler: %s: %d steps exceed num_train_timesteps %d", name, opt.Steps, cfg.NumTrainTimesteps)
	}
	if opt.Karras && !c.karras {
		return nil, fmt.Errorf("sampler: %s has no Karras sigmas in diffusers (use euler, dpmpp_2m or lms)", name)
	}
	if opt.Eta != 0 && name != "ddim" {
		return nil, fmt.Errorf("sampler: eta is only used by ddim, not %s", name)
	}
	if opt.Eta < 0 {
		return nil, fmt.Errorf("sampler: eta must not be negative, got %g", opt.Eta)
	}
	spacing := opt.Spacing
	if spacing == "" {
		spacing = cfg.TimestepSpacing
	}
	if spacing == "" {
		if c.family == "discrete" {
			spacing = "leading"
		} else {
			spacing = "linspace"
		}
	}
	switch spacing {
	case "leading", "linspace", "trailing":
	default:
		return nil, fmt.Errorf("sampler: spacing %q is not supported (want leading, linspace or trailing)", spacing)
	}
	opt.Spacing = spacing
	return c.build(newSchedule(cfg), cfg, opt)
}

// schedule is the training noise schedule shared by all samplers.
type schedule struct {
	T   int       // num_train_timesteps
	acp []float32 // alphas_cumprod
	v   bool      // prediction_type v_prediction: the model output is v
}

func newSchedule(cfg Config) *schedule {
	_, acp := trainSchedule(cfg)
	return &schedule{T: cfg.NumTrainTimesteps, acp: acp, v: cfg.PredictionType == "v_prediction"}
}

// sigmaX0 is the Euler/LMS data prediction at sigma: x - sigma*eps for
// epsilon, and for v_prediction diffusers' model_output * (-sigma /
// (sigma**2 + 1) ** 0.5) + sample / (sigma**2 + 1), in float32 as torch
// rounds it.
func sigmaX0(v bool, sigma float32, out, x []float32) []float32 {
	res := make([]float32, len(x))
	if !v {
		for j := range x {
			res[j] = x[j] - float32(sigma*out[j])
		}
		return res
	}
	s2 := float32(sigma*sigma) + 1
	cOut := -sigma / sqrt32(s2)
	for j := range x {
		res[j] = float32(out[j]*cOut) + x[j]/s2
	}
	return res
}

// discreteTimesteps is the integer set_timesteps of DDIM/DDPM (descending).
func discreteTimesteps(T, n, offset int, spacing string) ([]int, error) {
	ts := make([]int, 0, n)
	switch spacing {
	case "leading":
		ratio := T / n
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, i*ratio+offset)
		}
	case "linspace":
		v := npLinspace(0, float64(T-1), n)
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, int(roundHalfEven(v[i])))
		}
	case "trailing":
		for _, v := range npArange(float64(T), 0, -float64(T)/float64(n)) {
			ts = append(ts, int(roundHalfEven(v))-1)
		}
	}
	if len(ts) != n {
		return nil, errSpacing(spacing, len(ts), n)
	}
	for _, t := range ts {
		if t < 0 || t >= T {
			return nil, errRange(t, T)
		}
	}
	return ts, nil
}

// sigmaTimesteps is the float set_timesteps of Euler/Euler-a/LMS
// (descending, float64 values that numpy computed before its float32 cast).
func sigmaTimesteps(T, n, offset int, spacing string) ([]float64, error) {
	ts := make([]float64, 0, n)
	switch spacing {
	case "linspace":
		v := npLinspace(0, float64(T-1), n)
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, v[i])
		}
	case "leading":
		ratio := T / n
		for i := n - 1; i >= 0; i-- {
			ts = append(ts, float64(i*ratio+offset))
		}
	case "trailing":
		for _, v := range npArange(float64(T), 0, -float64(T)/float64(n)) {
			ts = append(ts, roundHalfEven(v)-1)
		}
	}
	if len(ts) != n {
		return nil, errSpacing(spacing, len(ts), n)
	}
	for _, t := range ts {
		if t < 0 || t > float64(T-1) {
			return nil, errRange(int(t), T)
		}
	}
	return ts, nil
}

func errSpacing(spacing string, got, want int) error {
	return fmt.Errorf("sampler: %s spacing gave %d timesteps for %d steps", spacing, got, want)
}

func errRange(t, T int) error {
	return fmt.Errorf("sampler: timestep %d outside [0, %d) (steps_offset too large?)", t, T)
}

// roundHalfEven is numpy's round (half to even).
func roundHalfEven(x float64) float64 { return math.RoundToEven(x) }

// checkStep panics on a call index outside the schedule or mismatched
// slices; both are bugs in the caller's loop, not user errors.
func checkStep(name string, i, n int, eps, x []float32) {
	if i < 0 || i >= n {
		panic(fmt.Sprintf("sampler: %s: call index %d outside [0, %d)", name, i, n))
	}
	if len(eps) != len(x) {
		panic(fmt.Sprintf("sampler: %s: model output has %d values, sample %d", name, len(eps), len(x)))
	}
}

// mustNoise panics when a stochastic step has no noise source.
func mustNoise(name string, noise Noise, n int) []float32 {
	if noise == nil {
		panic(fmt.Sprintf("sampler: %s: this step draws noise but noise is nil", name))
	}
	v := noise.Normal(n)
	if len(v) != n {
		panic(fmt.Sprintf("sampler: %s: noise returned %d values, want %d", name, len(v), n))
	}
	return v
}
