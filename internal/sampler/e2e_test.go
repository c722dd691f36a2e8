package sampler

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
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

type e2eMeta struct {
	Meta struct {
		Seed            uint64          `json:"seed"`
		InitNoiseSigma  float64         `json:"init_noise_sigma"`
		SchedulerConfig json.RawMessage `json:"scheduler_config"`
	} `json:"meta"`
}

func TestE2EReplay(t *testing.T) {
	refcheck.NotEmpty(t, "reference runs", len(e2eRuns))
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
				refcheck.Bitwise(t, "sigmas", sigmasOf(s), f32(t, f, "sigmas"))
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
			refcheck.Bitwise(t, "start_latents", x0, start)
			unetIn := f32(t, f, "unet_input")
			pred := f32(t, f, "noise_pred")
			after := f32(t, f, "latents_after_step")
			var stepNoise []float32
			if _, ok := f.Info("step_noise"); ok {
				stepNoise = f32(t, f, "step_noise")
			}
			state := func(i int) []float32 {
				if i == 0 {
					return start
				}
				return after[(i-1)*per : i*per]
			}

			// Step replay from the recorded latents and guided predictions:
			// bit for bit, as the schedulers fixture.
			rp := &replay{t: t, data: stepNoise}
			var gotIn, gotStep []float32
			for i := 0; i < s.Len(); i++ {
				gotIn = append(gotIn, s.ScaleModelInput(state(i), i)...)
				gotStep = append(gotStep, s.Step(pred[i*per:(i+1)*per], state(i), i, rp)...)
			}
			refcheck.Bitwise(t, "unet_input", gotIn, unetIn)
			refcheck.Bitwise(t, "step replay", gotStep, after)
			if rp.pos != len(stepNoise) {
				t.Errorf("used %d of %d step_noise values", rp.pos, len(stepNoise))
			}

			// The same loop driven by the seeded generator: draw 0 is the
			// initial latents, every step draws what diffusers drew.
			s, _ = New(r.name, cfg, r.opt)
			g := torchrng.New(meta.Meta.Seed)
			refcheck.Bitwise(t, "generator draw 0 against initial_latents", g.Normal(per), initial)
			var gotGen []float32
			for i := 0; i < s.Len(); i++ {
				gotGen = append(gotGen, s.Step(pred[i*per:(i+1)*per], state(i), i, g)...)
			}
			refcheck.Bitwise(t, "generator-driven steps", gotGen, after)
		})
	}
}
