package sampler

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
)

// SD 2.x (v-prediction) scheduler fixtures: testdata/sd2/schedulers.*,
// diffusers 0.27.2 on SD 2.1's scheduler config (prediction_type
// v_prediction) with the overrides listed per case.

const sd2SchedulersFixture = "../../testdata/sd2/schedulers.safetensors"

var sd2Cases = []struct {
	fixture string
	name    string
	opt     Options
	eps     bool // prediction_type overridden to epsilon
}{
	{"ddim", "ddim", Options{}, false},
	{"euler", "euler", Options{}, false},
	{"euler_a", "euler_a", Options{}, false},
	{"dpmpp_2m_karras", "dpmpp_2m", Options{Karras: true}, false},
	{"euler_a_trailing", "euler_a", Options{Spacing: "trailing"}, false},
	{"euler_trailing_eps", "euler", Options{Spacing: "trailing"}, true},
}

func sd2Config(t *testing.T, eps bool) Config {
	t.Helper()
	var meta struct {
		Meta struct {
			Base json.RawMessage `json:"base_config"`
		} `json:"meta"`
	}
	b, err := os.ReadFile("../../testdata/sd2/schedulers.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(meta.Meta.Base)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PredictionType != "v_prediction" {
		t.Fatalf("base prediction_type %q", cfg.PredictionType)
	}
	if eps {
		cfg.PredictionType = "epsilon"
	}
	return cfg
}

func TestSD2ScheduleFixtures(t *testing.T) {
	f := openST(t, sd2SchedulersFixture)
	refcheck.NotEmpty(t, "SD2 scheduler cases", len(sd2Cases))
	for _, c := range sd2Cases {
		for _, n := range []int{4, 25} {
			prefix := c.fixture + ".n" + itoa(n)
			t.Run(prefix, func(t *testing.T) {
				opt := c.opt
				opt.Steps = n
				s, err := New(c.name, sd2Config(t, c.eps), opt)
				if err != nil {
					t.Fatal(err)
				}
				want := numbers(t, f, prefix+".timesteps")
				if s.Len() != len(want) {
					t.Fatalf("Len %d, want %d", s.Len(), len(want))
				}
				for i, w := range want {
					if got := s.Timestep(i); float32(got) != float32(w) {
						t.Errorf("timestep[%d] = %v, want %v", i, got, w)
					}
				}
				if _, ok := f.Info(prefix + ".sigmas"); ok {
					refcheck.Bitwise(t, "sigmas", sigmasOf(s), f32(t, f, prefix+".sigmas"))
				}
			})
		}
	}
}

// TestSD2Trajectories runs each 12-step v-prediction trajectory with the
// fixture's fake model and replays every recorded step.
func TestSD2Trajectories(t *testing.T) {
	f := openST(t, sd2SchedulersFixture)
	refcheck.NotEmpty(t, "SD2 scheduler cases", len(sd2Cases))
	xT := f32(t, f, "x_T")
	c := f32(t, f, "c")
	per := len(xT)
	for _, tc := range sd2Cases {
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
			opt.Steps = len(samples)/per - 1
			cfg := sd2Config(t, tc.eps)
			src := func() Noise {
				if noise == nil {
					return &counter{}
				}
				return &replay{t: t, data: noise}
			}

			s, err := New(tc.name, cfg, opt)
			if err != nil {
				t.Fatal(err)
			}
			nz := src()
			gotSamples, gotInputs := runTrajectory(s, xT, c, nz)
			refcheck.Bitwise(t, "trajectory", gotSamples, samples)
			refcheck.Bitwise(t, "model_input", gotInputs, inputs)
			if r, ok := nz.(*replay); ok && r.pos != len(noise) {
				t.Errorf("used %d of %d recorded noise values", r.pos, len(noise))
			}

			s, _ = New(tc.name, cfg, opt)
			refcheck.Bitwise(t, "step replay", replaySteps(s, samples, outputs, per, src()), samples[per:])
		})
	}
}

// TestVPredictionAccepted checks that every sampler accepts v_prediction
// (ddpm, pndm and lms have no SD2 fixture; they use the same x0/eps
// conversions as their diffusers classes) and that other types are refused.
func TestVPredictionAccepted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.PredictionType = "v_prediction"
	for _, n := range Names() {
		if _, err := New(n, cfg, Options{Steps: 10}); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	cfg.PredictionType = "sample"
	if _, err := New("ddim", cfg, Options{Steps: 10}); err == nil {
		t.Error("prediction_type sample accepted")
	}
}
