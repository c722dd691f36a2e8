package sampler

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// schedulerCases are the nine set-ups of testdata/schedulers.safetensors
// (diffusers 0.27.2 on SD 1.5's scheduler config).
var schedulerCases = []struct {
	fixture string
	name    string
	opt     Options
	draws   int // generator draws over the 20-step trajectory
}{
	{"ddim", "ddim", Options{}, 0},
	{"ddim_eta1", "ddim", Options{Eta: 1}, 20},
	{"ddpm", "ddpm", Options{}, 20},
	{"pndm", "pndm", Options{}, 0},
	{"euler", "euler", Options{}, 20},
	{"euler_a", "euler_a", Options{}, 20},
	{"dpmpp_2m", "dpmpp_2m", Options{}, 0},
	{"dpmpp_2m_karras", "dpmpp_2m", Options{Karras: true}, 0},
	{"lms", "lms", Options{}, 0},
}

// Tolerances of the scheduler fixture checks.
const (
	sigmaRelTol = 1e-6 // schedule sigmas, relative to each sigma
	trajRelTol  = 1e-5 // trajectories, relative to max|reference| of the run
)

func TestTrainScheduleBitwise(t *testing.T) {
	f := openST(t, schedulersFixture)
	betas, acp := trainSchedule(DefaultConfig())
	for _, c := range []struct {
		name string
		got  []float32
	}{{"betas", betas}, {"alphas_cumprod", acp}} {
		want := f32(t, f, c.name)
		differ := 0
		for i := range want {
			if math.Float32bits(c.got[i]) != math.Float32bits(want[i]) {
				differ++
			}
		}
		if differ != 0 {
			t.Errorf("%s: %d of %d values differ bitwise", c.name, differ, len(want))
		}
	}
}

type schedMeta struct {
	Meta struct {
		Schedulers map[string]struct {
			InitNoiseSigma float64 `json:"init_noise_sigma"`
			NoiseCalls     int     `json:"noise_calls"`
		} `json:"schedulers"`
	} `json:"meta"`
}

func TestScheduleFixtures(t *testing.T) {
	f := openST(t, schedulersFixture)
	var meta schedMeta
	b, err := os.ReadFile("../../testdata/schedulers.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	for _, c := range schedulerCases {
		for _, n := range []int{20, 50} {
			prefix := c.fixture + ".n" + itoa(n)
			t.Run(prefix, func(t *testing.T) {
				opt := c.opt
				opt.Steps = n
				s, err := New(c.name, DefaultConfig(), opt)
				if err != nil {
					t.Fatal(err)
				}
				want := numbers(t, f, prefix+".timesteps")
				if s.Len() != len(want) {
					t.Fatalf("Len %d, want %d", s.Len(), len(want))
				}
				for i, w := range want {
					if got := s.Timestep(i); got != w {
						t.Errorf("timestep[%d] = %v, want %v", i, got, w)
					}
				}
				if _, ok := f.Info(prefix + ".sigmas"); ok {
					ws := f32(t, f, prefix+".sigmas")
					gs := sigmasOf(s)
					if len(gs) != len(ws) {
						t.Fatalf("%d sigmas, want %d", len(gs), len(ws))
					}
					worst := 0.0
					for i := range ws {
						if ws[i] == 0 {
							if gs[i] != 0 {
								t.Errorf("sigma[%d] = %v, want 0", i, gs[i])
							}
							continue
						}
						worst = math.Max(worst, math.Abs(float64(gs[i]-ws[i]))/float64(ws[i]))
					}
					if worst > sigmaRelTol {
						t.Errorf("sigmas: max relative error %.3g > %g", worst, sigmaRelTol)
					}
					t.Logf("sigmas: max relative error %.3g", worst)
				}
				wantInit := float32(meta.Meta.Schedulers[c.fixture].InitNoiseSigma)
				if got := s.InitNoiseSigma(); got != wantInit {
					t.Errorf("InitNoiseSigma = %v, want %v", got, wantInit)
				}
			})
		}
	}
}

// sigmasOf exposes the sigma schedule of the samplers that have one.
func sigmasOf(s Sampler) []float32 {
	switch v := s.(type) {
	case *euler:
		return v.sigmas
	case *eulerAncestral:
		return v.sigmas
	case *lms:
		return v.sigmas
	case *dpmSolver:
		return v.sigmas
	}
	return nil
}

// fakeModel is the fixture's stand-in UNet:
// float32(0.1)*x + float32(0.05*(1 + t/1000))*c.
func fakeModel(x, c []float32, t float64) []float32 {
	k := float32(0.05 * (1 + t/1000))
	out := make([]float32, len(x))
	for j := range x {
		out[j] = float32(float32(0.1)*x[j]) + float32(k*c[j])
	}
	return out
}

// TestTrajectories runs each 20-step trajectory with the fake model from
// x_T, drawing the recorded noise, and checks every sample; it also replays
// each step from the recorded sample and model output.
func TestTrajectories(t *testing.T) {
	f := openST(t, schedulersFixture)
	xT := f32(t, f, "x_T")
	c := f32(t, f, "c")
	per := len(xT)
	for _, tc := range schedulerCases {
		t.Run(tc.fixture, func(t *testing.T) {
			p := tc.fixture + ".traj."
			samples := f32(t, f, p+"samples")
			inputs := f32(t, f, p+"model_input")
			outputs := f32(t, f, p+"model_output")
			var noise []float32
			if _, ok := f.Info(p + "noise"); ok {
				noise = f32(t, f, p+"noise")
			}
			opt := tc.opt
			opt.Steps = 20
			ref := maxAbs(samples)

			// Free run: the sampler's own trajectory.
			s, err := New(tc.name, DefaultConfig(), opt)
			if err != nil {
				t.Fatal(err)
			}
			rp := &replay{t: t, data: noise}
			var src Noise = rp
			if noise == nil {
				src = &counter{}
			}
			x := make([]float32, per)
			init := s.InitNoiseSigma()
			for j := range x {
				x[j] = xT[j] * init
			}
			worst, worstIn := maxDiff(x, samples[:per]), 0.0
			for i := 0; i < s.Len(); i++ {
				in := s.ScaleModelInput(x, i)
				worstIn = math.Max(worstIn, maxDiff(in, inputs[i*per:(i+1)*per]))
				x = s.Step(fakeModel(in, c, s.Timestep(i)), x, i, src)
				worst = math.Max(worst, maxDiff(x, samples[(i+1)*per:(i+2)*per]))
			}
			if want := len(samples)/per - 1; s.Len() != want {
				t.Fatalf("Len %d, want %d", s.Len(), want)
			}
			draws := 0
			if noise == nil {
				draws = src.(*counter).draws
			} else {
				draws = rp.n
			}
			if draws != tc.draws {
				t.Errorf("%d noise draws, want %d", draws, tc.draws)
			}
			if noise != nil && rp.pos != len(noise) {
				t.Errorf("used %d of %d recorded noise values", rp.pos, len(noise))
			}

			// Step replay from the recorded states.
			s, _ = New(tc.name, DefaultConfig(), opt)
			rp = &replay{t: t, data: noise}
			src = rp
			if noise == nil {
				src = &counter{}
			}
			worstStep := 0.0
			for i := 0; i < s.Len(); i++ {
				xi := samples[i*per : (i+1)*per]
				got := s.Step(outputs[i*per:(i+1)*per], xi, i, src)
				worstStep = math.Max(worstStep, maxDiff(got, samples[(i+1)*per:(i+2)*per]))
			}
			rel, relIn, relStep := worst/ref, worstIn/maxAbs(inputs), worstStep/ref
			t.Logf("max|ref| %.4g  trajectory rel %.3g (abs %.3g)  model_input rel %.3g  step replay rel %.3g",
				ref, rel, worst, relIn, relStep)
			if rel > trajRelTol || relIn > trajRelTol || relStep > trajRelTol {
				t.Errorf("relative error above %g: trajectory %.3g, model_input %.3g, step replay %.3g",
					trajRelTol, rel, relIn, relStep)
			}
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
