package sampler

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
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

// The scheduler fixture checks compare bits: the schedules, trajectories
// and step replays are float32 arithmetic in diffusers' order, and every
// value is torch's exactly.

func TestTrainScheduleBitwise(t *testing.T) {
	f := openST(t, schedulersFixture)
	betas, acp := trainSchedule(DefaultConfig())
	for _, c := range []struct {
		name string
		got  []float32
	}{{"betas", betas}, {"alphas_cumprod", acp}} {
		refcheck.Bitwise(t, c.name, c.got, f32(t, f, c.name))
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
	refcheck.NotEmpty(t, "scheduler cases", len(schedulerCases))
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
					refcheck.Bitwise(t, "sigmas", sigmasOf(s), f32(t, f, prefix+".sigmas"))
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
	refcheck.NotEmpty(t, "scheduler cases", len(schedulerCases))
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
			if want := len(samples)/per - 1; s.Len() != want {
				t.Fatalf("Len %d, want %d", s.Len(), want)
			}
			gotSamples, gotInputs := runTrajectory(s, xT, c, src)
			refcheck.Bitwise(t, "trajectory", gotSamples, samples)
			refcheck.Bitwise(t, "model_input", gotInputs, inputs)
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
			src = &replay{t: t, data: noise}
			if noise == nil {
				src = &counter{}
			}
			refcheck.Bitwise(t, "step replay", replaySteps(s, samples, outputs, per, src), samples[per:])
		})
	}
}

// runTrajectory runs s from x_T with the fixtures' fake model and returns
// every sample (x_T scaled first) and every model input, concatenated.
func runTrajectory(s Sampler, xT, c []float32, src Noise) (samples, inputs []float32) {
	x := make([]float32, len(xT))
	init := s.InitNoiseSigma()
	for j := range x {
		x[j] = xT[j] * init
	}
	samples = append(samples, x...)
	for i := 0; i < s.Len(); i++ {
		in := s.ScaleModelInput(x, i)
		inputs = append(inputs, in...)
		x = s.Step(fakeModel(in, c, s.Timestep(i)), x, i, src)
		samples = append(samples, x...)
	}
	return samples, inputs
}

// replaySteps runs each step of s from the recorded sample and model output
// and returns the results, concatenated.
func replaySteps(s Sampler, samples, outputs []float32, per int, src Noise) []float32 {
	var out []float32
	for i := 0; i < s.Len(); i++ {
		out = append(out, s.Step(outputs[i*per:(i+1)*per], samples[i*per:(i+1)*per], i, src)...)
	}
	return out
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
