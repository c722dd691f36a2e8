package sampler

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
)

// sd15Config is Stable Diffusion 1.5's scheduler_config.json.
const sd15Config = `{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null,
  "clip_sample": false
}`

func TestParseConfigSD15(t *testing.T) {
	cfg, err := ParseConfig([]byte(sd15Config))
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("ParseConfig(SD 1.5) = %+v, want DefaultConfig() %+v", cfg, want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name, json, want string
	}{
		{"not json", `{`, "scheduler config"},
		{"trained betas", `{"trained_betas": [0.1, 0.2]}`, "trained_betas"},
		{"cosine schedule", `{"beta_schedule": "squaredcos_cap_v2"}`, "beta_schedule"},
		{"bad spacing", `{"timestep_spacing": "evenly"}`, "timestep_spacing"},
		{"bad betas", `{"beta_start": 0, "beta_schedule": "linear"}`, "beta_start"},
		{"wrong type", `{"num_train_timesteps": "1000"}`, "scheduler config"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

func TestParseConfigDefaults(t *testing.T) {
	// Missing keys take diffusers' class defaults.
	cfg, err := ParseConfig([]byte(`{"_class_name": "DDIMScheduler"}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NumTrainTimesteps != 1000 || cfg.BetaSchedule != "linear" || cfg.BetaStart != 0.0001 ||
		cfg.BetaEnd != 0.02 || !cfg.ClipSample || cfg.PredictionType != "epsilon" ||
		cfg.SetAlphaToOne != nil || cfg.TimestepSpacing != "" {
		t.Errorf("defaults: %+v", cfg)
	}
	// set_alpha_to_one absent: DDIM uses 1, PNDM alphas_cumprod[0].
	cfg = DefaultConfig()
	cfg.SetAlphaToOne = nil
	d, _ := New("ddim", cfg, Options{Steps: 10})
	p, _ := New("pndm", cfg, Options{Steps: 10})
	_, acp := trainSchedule(cfg)
	if got := d.(*ddim).finalAlpha; got != 1 {
		t.Errorf("ddim final alpha %v, want 1", got)
	}
	if got := p.(*pndm).finalAlpha; got != acp[0] {
		t.Errorf("pndm final alpha %v, want %v", got, acp[0])
	}
}

func TestLinearSchedule(t *testing.T) {
	cfg := DefaultConfig()
	cfg.BetaSchedule = "linear"
	cfg.BetaStart, cfg.BetaEnd = 0.0001, 0.02
	betas, acp := trainSchedule(cfg)
	if betas[0] != float32(0.0001) || betas[999] != float32(0.02) {
		t.Errorf("linear betas run %v..%v, want 0.0001..0.02", betas[0], betas[999])
	}
	for i := 1; i < len(betas); i++ {
		if !(betas[i] > betas[i-1]) || !(acp[i] < acp[i-1]) {
			t.Fatalf("schedule not monotone at %d", i)
		}
	}
}

func TestNames(t *testing.T) {
	want := []string{"ddim", "ddpm", "dpmpp_2m", "euler", "euler_a", "lcm", "lms", "pndm"}
	if got := Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for class, name := range map[string]string{
		"PNDMScheduler": "pndm", "DDIMScheduler": "ddim", "EulerAncestralDiscreteScheduler": "euler_a",
		"DPMSolverMultistepScheduler": "dpmpp_2m", "LMSDiscreteScheduler": "lms",
	} {
		if got, ok := NameForClass(class); !ok || got != name {
			t.Errorf("NameForClass(%s) = %q, %v", class, got, ok)
		}
	}
	if _, ok := NameForClass("UniPCMultistepScheduler"); ok {
		t.Error("NameForClass accepted an unsupported class")
	}
}

func TestNewErrors(t *testing.T) {
	sample := DefaultConfig()
	sample.PredictionType = "sample"
	offset := DefaultConfig()
	offset.StepsOffset = 100
	cases := []struct {
		what string
		name string
		cfg  Config
		opt  Options
		want string
	}{
		{"unknown", "heun", DefaultConfig(), Options{Steps: 20}, "unknown sampler"},
		{"zero steps", "euler", DefaultConfig(), Options{}, "at least 1"},
		{"too many steps", "ddim", DefaultConfig(), Options{Steps: 1001}, "exceed"},
		{"karras ddim", "ddim", DefaultConfig(), Options{Steps: 20, Karras: true}, "Karras"},
		{"karras euler_a", "euler_a", DefaultConfig(), Options{Steps: 20, Karras: true}, "Karras"},
		{"eta euler", "euler", DefaultConfig(), Options{Steps: 20, Eta: 1}, "eta"},
		{"negative eta", "ddim", DefaultConfig(), Options{Steps: 20, Eta: -1}, "eta"},
		{"spacing", "ddim", DefaultConfig(), Options{Steps: 20, Spacing: "even"}, "spacing"},
		{"sample prediction", "ddim", sample, Options{Steps: 20}, "prediction_type"},
		{"offset past end", "ddim", offset, Options{Steps: 10}, "outside"},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			_, err := New(c.name, c.cfg, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// TestSpacing covers the spacings and the README's trailing facts
// (SD-Turbo): N=1 -> [999], N=2 -> [999, 499], N=4 -> [999, 749, 499, 249].
func TestSpacing(t *testing.T) {
	trailing := map[int][]float64{1: {999}, 2: {999, 499}, 4: {999, 749, 499, 249}}
	for _, name := range []string{"ddim", "ddpm", "euler", "euler_a", "dpmpp_2m", "lms"} {
		for n, want := range trailing {
			s, err := New(name, DefaultConfig(), Options{Steps: n, Spacing: "trailing"})
			if err != nil {
				t.Fatal(err)
			}
			if got := timesteps(s); !reflect.DeepEqual(got, want) {
				t.Errorf("%s trailing N=%d: %v, want %v", name, n, got, want)
			}
		}
	}
	// PNDM repeats the second timestep for its PLMS warm-up.
	s, _ := New("pndm", DefaultConfig(), Options{Steps: 4, Spacing: "trailing"})
	if got, want := timesteps(s), []float64{999, 749, 749, 499, 249}; !reflect.DeepEqual(got, want) {
		t.Errorf("pndm trailing N=4: %v, want %v", got, want)
	}
	s, _ = New("pndm", DefaultConfig(), Options{Steps: 1})
	if got, want := timesteps(s), []float64{1}; !reflect.DeepEqual(got, want) {
		t.Errorf("pndm N=1: %v, want %v", got, want)
	}
	// Trailing Euler starts at sigma_max (the first sigma of every Euler
	// schedule of the fixture) and multiplies the noise by it.
	sigmaMax := f32(t, openST(t, schedulersFixture), "euler.n20.sigmas")[0]
	for _, name := range []string{"euler", "euler_a"} {
		s, _ := New(name, DefaultConfig(), Options{Steps: 1, Spacing: "trailing"})
		refcheck.Bitwise(t, name+" trailing N=1 sigmas", sigmasOf(s), []float32{sigmaMax, 0})
		sig := sigmasOf(s)
		if s.InitNoiseSigma() != sig[0] {
			t.Errorf("%s trailing init sigma %v, want sigma_max %v", name, s.InitNoiseSigma(), sig[0])
		}
	}
	// Leading Euler uses sqrt(sigma_max^2 + 1) instead.
	s, _ = New("euler", DefaultConfig(), Options{Steps: 10, Spacing: "leading"})
	if got := timesteps(s); got[0] != 901 || got[9] != 1 {
		t.Errorf("euler leading N=10: %v", got)
	}
	sig := sigmasOf(s)[0]
	if want := sqrt32(sig*sig + 1); s.InitNoiseSigma() != want {
		t.Errorf("euler leading init sigma %v, want %v", s.InitNoiseSigma(), want)
	}
	// A config's timestep_spacing applies unless Options.Spacing overrides it.
	cfg := DefaultConfig()
	cfg.TimestepSpacing = "trailing"
	s, _ = New("ddim", cfg, Options{Steps: 2})
	if got := timesteps(s); !reflect.DeepEqual(got, []float64{999, 499}) {
		t.Errorf("config trailing: %v", got)
	}
	s, _ = New("ddim", cfg, Options{Steps: 2, Spacing: "linspace"})
	if got := timesteps(s); !reflect.DeepEqual(got, []float64{999, 0}) {
		t.Errorf("option linspace over config trailing: %v", got)
	}
}

func timesteps(s Sampler) []float64 {
	out := make([]float64, s.Len())
	for i := range out {
		out[i] = s.Timestep(i)
	}
	return out
}

// TestNoiseDraws checks that Step draws exactly when diffusers' step does.
func TestNoiseDraws(t *testing.T) {
	cases := []struct {
		name  string
		opt   Options
		calls int
		draws int
	}{
		{"ddim", Options{Steps: 10}, 10, 0},
		{"ddim", Options{Steps: 10, Eta: 0.5}, 10, 10},
		{"ddpm", Options{Steps: 10}, 10, 10},                     // leading: every t >= 1
		{"ddpm", Options{Steps: 10, Spacing: "linspace"}, 10, 9}, // last t = 0 draws nothing
		{"pndm", Options{Steps: 10}, 11, 0},
		{"euler", Options{Steps: 10}, 10, 10}, // drawn although unused
		{"euler_a", Options{Steps: 10}, 10, 10},
		{"dpmpp_2m", Options{Steps: 10}, 10, 0},
		{"lms", Options{Steps: 10}, 10, 0},
	}
	for _, c := range cases {
		s, err := New(c.name, DefaultConfig(), c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != c.calls {
			t.Errorf("%s %+v: Len %d, want %d", c.name, c.opt, s.Len(), c.calls)
		}
		n := &counter{}
		x := make([]float32, 16)
		for i := range x {
			x[i] = float32(i) - 8
		}
		for i := 0; i < s.Len(); i++ {
			x = s.Step(s.ScaleModelInput(x, i), x, i, n)
		}
		if n.draws != c.draws {
			t.Errorf("%s %+v: %d draws, want %d", c.name, c.opt, n.draws, c.draws)
		}
		for _, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Errorf("%s %+v: non-finite result", c.name, c.opt)
				break
			}
		}
	}
	// A stochastic step without a noise source is a programming error.
	s, _ := New("euler_a", DefaultConfig(), Options{Steps: 2})
	defer func() {
		if recover() == nil {
			t.Error("euler_a step with nil noise did not panic")
		}
	}()
	s.Step(make([]float32, 4), make([]float32, 4), 0, nil)
}

// TestKarras checks the schedules that have no fixture: Karras sigmas span
// the training sigmas with rho 7 and map back to decreasing timesteps.
func TestKarras(t *testing.T) {
	_, acp := trainSchedule(DefaultConfig())
	train := trainSigmas(acp)
	for _, name := range []string{"euler", "lms", "dpmpp_2m"} {
		s, err := New(name, DefaultConfig(), Options{Steps: 12, Karras: true})
		if err != nil {
			t.Fatal(err)
		}
		sig := sigmasOf(s)
		if sig[0] != train[999] {
			t.Errorf("%s: first sigma %v, want sigma_max %v", name, sig[0], train[999])
		}
		if rel := math.Abs(float64(sig[11]-train[0])) / float64(train[0]); rel > 1e-6 {
			t.Errorf("%s: last sigma %v, want sigma_min %v", name, sig[11], train[0])
		}
		if sig[12] != 0 {
			t.Errorf("%s: final sigma %v, want 0", name, sig[12])
		}
		// Equal steps in sigma^(1/7).
		step0 := math.Pow(float64(sig[1]), 1.0/7) - math.Pow(float64(sig[0]), 1.0/7)
		step9 := math.Pow(float64(sig[10]), 1.0/7) - math.Pow(float64(sig[9]), 1.0/7)
		if math.Abs(step0-step9) > 1e-6 {
			t.Errorf("%s: sigma^(1/7) steps %v and %v differ", name, step0, step9)
		}
		for i := 1; i < s.Len(); i++ {
			if !(s.Timestep(i) < s.Timestep(i-1)) {
				t.Errorf("%s: timesteps not decreasing at %d: %v", name, i, timesteps(s))
				break
			}
		}
		if name != "dpmpp_2m" && s.InitNoiseSigma() != sig[0] {
			t.Errorf("%s: init sigma %v, want %v", name, s.InitNoiseSigma(), sig[0])
		}
	}
}

// TestLMSCoefficients checks the quadrature: the Lagrange basis sums to 1,
// so the coefficients of one step sum to sigma_{t+1} - sigma_t.
func TestLMSCoefficients(t *testing.T) {
	s, _ := New("lms", DefaultConfig(), Options{Steps: 20})
	l := s.(*lms)
	for i := 0; i < l.Len(); i++ {
		order := min(i+1, lmsOrder)
		sum := 0.0
		for k := 0; k < order; k++ {
			sum += l.coefficient(order, i, k)
		}
		want := float64(l.sigmas[i+1]) - float64(l.sigmas[i])
		if math.Abs(sum-want) > 1e-6*math.Abs(want) {
			t.Errorf("step %d: coefficients sum to %v, want %v", i, sum, want)
		}
	}
	// A cubic is integrated exactly by one 21-point Gauss-Kronrod pass.
	got := gaussKronrod21(func(x float64) float64 { return x*x*x - 2*x + 1 }, 2, -1)
	if want := -(4.0 - 4 + 2 - (0.25 - 1 - 1)); math.Abs(got-want) > 1e-13 {
		t.Errorf("GK21 of a cubic = %v, want %v", got, want)
	}
}
