package sampler

import (
	"fmt"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
)

// TestLCMSchedule: LCMScheduler's timesteps, c_skip and c_out for 1-8
// steps, the img2img pipeline's cut of them, bit for bit (sd1-tiny-lcm).
func TestLCMSchedule(t *testing.T) {
	f := openST(t, "../../testdata/lcm/schedulers.safetensors")
	refcheck.Bitwise(t, "alphas_cumprod", newSchedule(DefaultConfig()).acp, f32(t, f, "alphas_cumprod"))
	for _, setup := range []struct {
		name string
		pred string
	}{{"lcm", "epsilon"}, {"lcm_vpred", "v_prediction"}} {
		cfg := DefaultConfig()
		cfg.PredictionType = setup.pred
		for _, n := range []int{1, 2, 4, 6, 8} {
			pre := fmt.Sprintf("%s.n%d.", setup.name, n)
			s, err := New("lcm", cfg, Options{Steps: n})
			if err != nil {
				t.Fatal(err)
			}
			l := s.(*lcm)
			want := numbers(t, f, pre+"timesteps")
			got := make([]float64, s.Len())
			for i := range got {
				got[i] = s.Timestep(i)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%stimesteps %v, want %v", pre, got, want)
			}
			refcheck.Bitwise(t, pre+"c_skip", l.cSkip, f32(t, f, pre+"c_skip"))
			refcheck.Bitwise(t, pre+"c_out", l.cOut, f32(t, f, pre+"c_out"))
			if n == 1 {
				continue
			}
			cut := Skip(s, StrengthStart(n, 0.5))
			want = numbers(t, f, pre+"img2img_s0.5.timesteps")
			got = got[:0]
			for i := range cut.Len() {
				got = append(got, cut.Timestep(i))
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%simg2img at 0.5: %v, want %v", pre, got, want)
			}
		}
	}
	if _, err := New("lcm", DefaultConfig(), Options{Steps: 51}); err == nil {
		t.Error("51 steps accepted (original_inference_steps is 50)")
	}
}

// TestLCMTrajectory replays the fixtures' 4-step trajectories (epsilon and
// v-prediction) on their fake model with the recorded noise: every
// sample, bit for bit, and no draw on the last step.
func TestLCMTrajectory(t *testing.T) {
	f := openST(t, "../../testdata/lcm/schedulers.safetensors")
	c := f32(t, f, "c")
	for _, setup := range []struct{ name, pred string }{{"lcm", "epsilon"}, {"lcm_vpred", "v_prediction"}} {
		cfg := DefaultConfig()
		cfg.PredictionType = setup.pred
		s, err := New("lcm", cfg, Options{Steps: 4})
		if err != nil {
			t.Fatal(err)
		}
		pre := setup.name + ".traj."
		samples, noise := f32(t, f, pre+"samples"), f32(t, f, pre+"noise")
		n := len(c)
		x := append([]float32(nil), samples[:n]...)
		draws := &recorded{data: noise}
		for i := range s.Len() {
			tt := float32(s.Timestep(i))
			out := make([]float32, n)
			k := float32(0.05 * (1 + float64(tt)/1000))
			for j := range out {
				out[j] = float32(0.1*x[j]) + float32(k*c[j])
			}
			x = s.Step(out, x, i, draws)
			refcheck.Bitwise(t, fmt.Sprintf("%s step %d", pre, i), x, samples[(i+1)*n:(i+2)*n])
		}
		if draws.used != len(noise) {
			t.Errorf("%s: %d noise values drawn, the steps consumed %d", pre, draws.used, len(noise))
		}
	}
}

// recorded hands out stored noise in order.
type recorded struct {
	data []float32
	used int
}

func (r *recorded) Normal(n int) []float32 {
	v := r.data[r.used : r.used+n]
	r.used += n
	return v
}
