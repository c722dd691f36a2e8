package sampler

import "testing"

func TestStrengthStart(t *testing.T) {
	for _, c := range []struct {
		steps    int
		strength float64
		want     int
	}{{20, 0.3, 14}, {20, 0.6, 8}, {20, 0.75, 5}, {20, 1, 0}, {100, 0.29, 72}, {2, 0.4, 2}, {1, 1, 0}} {
		if got := StrengthStart(c.steps, c.strength); got != c.want {
			t.Errorf("StrengthStart(%d, %g) = %d, want %d", c.steps, c.strength, got, c.want)
		}
	}
}

// TestSkip: a skipped sampler is the tail of the full one, and for every
// sampler AddNoise at call i of the tail is AddNoise at call n+i of the full
// schedule.
func TestSkip(t *testing.T) {
	x0 := []float32{0.5, -1, 2, 0.25}
	noise := []float32{1, 0.5, -0.75, 2}
	for _, name := range Names() {
		full, err := New(name, DefaultConfig(), Options{Steps: 20})
		if err != nil {
			t.Fatal(err)
		}
		tail, _ := New(name, DefaultConfig(), Options{Steps: 20})
		tail = Skip(tail, 8)
		if tail.Len() != full.Len()-8 {
			t.Errorf("%s: Len %d, want %d", name, tail.Len(), full.Len()-8)
		}
		for i := 0; i < tail.Len(); i++ {
			if tail.Timestep(i) != full.Timestep(i+8) {
				t.Errorf("%s: timestep %d", name, i)
			}
			a, b := tail.AddNoise(x0, noise, i), full.AddNoise(x0, noise, i+8)
			for j := range a {
				if a[j] != b[j] {
					t.Errorf("%s: AddNoise at %d differs", name, i)
					break
				}
			}
		}
	}
	ddim, _ := New("ddim", DefaultConfig(), Options{Steps: 20})
	got := ddim.AddNoise(x0, noise, 19) // t = 1: almost x0
	for j := range got {
		if d := got[j] - x0[j]; d > 0.1 || d < -0.1 {
			t.Errorf("ddim AddNoise at t=1: %v, want about %v", got, x0)
			break
		}
	}
}
