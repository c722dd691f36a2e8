package sampler

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/imggen/imggen/internal/torchrng"
)

// e2eRuns are seeded diffusers pipeline runs (testdata/e2e, copied from the
// sd1-tiny fixtures) replayed through the samplers.
var e2eRuns = []struct {
	run  string
	name string
	opt  Options
}{
	{"e2e_ddim10_cfg7.5", "ddim", Options{Steps: 10}},
	{"e2e_pndm20_cfg7.5", "pndm", Options{Steps: 20}},
	{"e2e_eulera20_cfg7.5", "euler_a", Options{Steps: 20}},
	{"e2e_dpmpp2mkarras15_cfg5_w128h96", "dpmpp_2m", Options{Steps: 15, Karras: true}},
	{"e2e_ddpm25_cfg7.5", "ddpm", Options{Steps: 25}},
	{"e2e_euler20_cfg7.5_clipskip1", "euler", Options{Steps: 20}},
}

// e2eRelTol bounds step replay errors relative to max|latents| of the run.
const e2eRelTol = 1e-5

type e2eMeta struct {
	Meta struct {
		Seed            uint64          `json:"seed"`
		InitNoiseSigma  float64         `json:"init_noise_sigma"`
		SchedulerConfig json.RawMessage `json:"scheduler_config"`
	} `json:"meta"`
}

func TestE2EReplay(t *testing.T) {
	for _, r := range e2eRuns {
		t.Run(r.run, func(t *testing.T) {
			base := "../../testdata/e2e/" + r.run
			var meta e2eMeta
			b, err := os.ReadFile(base + ".json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &meta); err != nil {
				t.Fatal(err)
			}
			// The resolved config diffusers reported, through our parser.
			cfg, err := ParseConfig(meta.Meta.SchedulerConfig)
			if err != nil {
				t.Fatal(err)
			}
			f := openST(t, base+".safetensors")
			s, err := New(r.name, cfg, r.opt)
			if err != nil {
				t.Fatal(err)
			}

			ts := numbers(t, f, "timesteps")
			uts := numbers(t, f, "unet_timestep")
			if s.Len() != len(ts) {
				t.Fatalf("Len %d, want %d", s.Len(), len(ts))
			}
			for i := range ts {
				if s.Timestep(i) != ts[i] || s.Timestep(i) != uts[i] {
					t.Errorf("Timestep(%d) = %v, want %v (unet %v)", i, s.Timestep(i), ts[i], uts[i])
				}
			}
			if _, ok := f.Info("sigmas"); ok {
				if d := maxDiff(sigmasOf(s), f32(t, f, "sigmas")); d != 0 {
					t.Errorf("sigmas differ by up to %.3g", d)
				}
			}
			if got, want := s.InitNoiseSigma(), float32(meta.Meta.InitNoiseSigma); got != want {
				t.Errorf("InitNoiseSigma %v, want %v", got, want)
			}

			initial := f32(t, f, "initial_latents")
			start := f32(t, f, "start_latents")
			per := len(initial)
			x0 := make([]float32, per)
			for j := range x0 {
				x0[j] = initial[j] * s.InitNoiseSigma()
			}
			if d := maxDiff(x0, start); d != 0 {
				t.Errorf("start_latents differ by %.3g", d)
			}
			unetIn := f32(t, f, "unet_input")
			pred := f32(t, f, "noise_pred")
			after := f32(t, f, "latents_after_step")
			var stepNoise []float32
			if _, ok := f.Info("step_noise"); ok {
				stepNoise = f32(t, f, "step_noise")
			}
			ref := maxAbs(after)
			state := func(i int) []float32 {
				if i == 0 {
					return start
				}
				return after[(i-1)*per : i*per]
			}

			// Step replay from the recorded latents and guided predictions.
			rp := &replay{t: t, data: stepNoise}
			worstIn, worstStep := 0.0, 0.0
			for i := 0; i < s.Len(); i++ {
				in := s.ScaleModelInput(state(i), i)
				worstIn = math.Max(worstIn, maxDiff(in, unetIn[i*per:(i+1)*per]))
				got := s.Step(pred[i*per:(i+1)*per], state(i), i, rp)
				worstStep = math.Max(worstStep, maxDiff(got, after[i*per:(i+1)*per]))
			}
			if rp.pos != len(stepNoise) {
				t.Errorf("used %d of %d step_noise values", rp.pos, len(stepNoise))
			}

			// The same loop driven by the seeded generator: draw 0 is the
			// initial latents, every step draws what diffusers drew.
			s, _ = New(r.name, cfg, r.opt)
			g := torchrng.New(meta.Meta.Seed)
			if d := maxDiff(g.Normal(per), initial); d != 0 {
				t.Errorf("generator draw 0 differs from initial_latents by %.3g", d)
			}
			worstGen := 0.0
			for i := 0; i < s.Len(); i++ {
				got := s.Step(pred[i*per:(i+1)*per], state(i), i, g)
				worstGen = math.Max(worstGen, maxDiff(got, after[i*per:(i+1)*per]))
			}
			t.Logf("max|latents| %.4g  unet_input rel %.3g  step replay rel %.3g  generator-driven rel %.3g",
				ref, worstIn/maxAbs(unetIn), worstStep/ref, worstGen/ref)
			for _, c := range []struct {
				what string
				rel  float64
			}{{"unet_input", worstIn / maxAbs(unetIn)}, {"step replay", worstStep / ref}, {"generator-driven", worstGen / ref}} {
				if c.rel > e2eRelTol {
					t.Errorf("%s relative error %.3g > %g", c.what, c.rel, e2eRelTol)
				}
			}
		})
	}
}
