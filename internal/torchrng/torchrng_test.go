package torchrng

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/safetensors"
)

const rngFixture = "../../testdata/rng/torch_cpu_randn.safetensors"

// compareExact reports how many values differ bitwise and the largest
// absolute difference.
func compareExact(got, want []float32) (differ int, maxAbs float64) {
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			differ++
			maxAbs = math.Max(maxAbs, math.Abs(float64(got[i])-float64(want[i])))
		}
	}
	return differ, maxAbs
}

func openFixture(t *testing.T, path string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatalf("open fixture: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func load(t *testing.T, f *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := f.Float32(name)
	if err != nil {
		t.Fatalf("tensor %s: %v", name, err)
	}
	return v
}

// TestRandnFixtures checks every randn case of the torch fixture bitwise:
// one draw on a fresh generator per shape, a four-draw sequence and rand.
func TestRandnFixtures(t *testing.T) {
	f := openFixture(t, rngFixture)
	seeds := []uint64{0, 1, 42, 1234567, 1<<32 + 7}
	shapes := [][]int{{5}, {15}, {16}, {17}, {33}, {1, 4, 8, 8}, {2, 4, 8, 12}, {1, 4, 64, 64}}
	type tc struct {
		name  string
		seed  uint64
		calls [][]int // successive randn shapes; the last one is checked
		rand  bool
	}
	var cases []tc
	for _, s := range seeds {
		for _, sh := range shapes {
			cases = append(cases, tc{name: fmt.Sprintf("seed%d_%s", s, shapeName(sh)), seed: s, calls: [][]int{sh}})
		}
		for k := 0; k < 4; k++ {
			calls := make([][]int, k+1)
			for i := range calls {
				calls[i] = []int{1, 4, 8, 8}
			}
			cases = append(cases, tc{name: fmt.Sprintf("seed%d_seq%d_1x4x8x8", s, k), seed: s, calls: calls})
		}
		cases = append(cases, tc{name: fmt.Sprintf("seed%d_rand_1x4x8x8", s), seed: s, calls: [][]int{{1, 4, 8, 8}}, rand: true})
	}
	total := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := load(t, f, c.name)
			g := New(c.seed)
			var got []float32
			for _, sh := range c.calls {
				if c.rand {
					got = g.Rand(len(want))
				} else {
					got = g.Randn(sh...)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("len %d, want %d", len(got), len(want))
			}
			n, d := compareExact(got, want)
			total += len(want)
			if n != 0 {
				t.Errorf("%d of %d values differ, max |diff| %.3g (want bit-exact)", n, len(want), d)
			}
		})
	}
	t.Logf("checked %d cases, %d values", len(cases), total)
}

func shapeName(sh []int) string {
	s := make([]string, len(sh))
	for i, d := range sh {
		s[i] = fmt.Sprint(d)
	}
	return strings.Join(s, "x")
}

// TestScalarPathCache checks that the numel < 16 path hands out the cached
// sine half on the next scalar draw, also across calls, and that Seed drops it.
func TestScalarPathCache(t *testing.T) {
	a := New(3).Normal(2)
	g := New(3)
	b0 := g.Normal(1)
	b1 := g.Normal(1)
	if a[0] != b0[0] || a[1] != b1[0] {
		t.Fatalf("cached value not reused across calls: %v vs %v %v", a, b0, b1)
	}
	g = New(3)
	g.Normal(1)
	g.Seed(3)
	if c := g.Normal(1); c[0] != b0[0] {
		t.Fatalf("Seed kept the cached normal: %v vs %v", c[0], b0[0])
	}
}

// e2eRuns are the seeded pipeline runs in testdata/e2e whose generator
// draws are replayed: draw 0 is the initial latents, then one draw per
// stochastic scheduler step.
var e2eRuns = []string{
	"e2e_ddim10_cfg7.5",
	"e2e_pndm20_cfg7.5",
	"e2e_eulera20_cfg7.5",
	"e2e_dpmpp2mkarras15_cfg5_w128h96",
	"e2e_ddpm25_cfg7.5",
	"e2e_euler20_cfg7.5_clipskip1",
}

func TestE2EDraws(t *testing.T) {
	for _, name := range e2eRuns {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join("../../testdata/e2e", name)
			meta, err := readMeta(base + ".json")
			if err != nil {
				t.Fatal(err)
			}
			f := openFixture(t, base+".safetensors")
			g := New(meta.Seed)
			init := load(t, f, "initial_latents")
			got := g.Normal(len(init))
			if n, d := compareExact(got, init); n != 0 {
				t.Errorf("initial_latents: %d of %d differ, max %.3g", n, len(init), d)
			}
			total, draws := len(init), 1
			if info, ok := f.Info("step_noise"); ok {
				noise := load(t, f, "step_noise")
				k := info.Shape[0]
				per := len(noise) / k
				for i := 0; i < k; i++ {
					got := g.Normal(per)
					if n, d := compareExact(got, noise[i*per:(i+1)*per]); n != 0 {
						t.Errorf("step_noise[%d]: %d of %d differ, max %.3g", i, n, per, d)
					}
				}
				total += len(noise)
				draws += k
			}
			t.Logf("seed %d: %d draws, %d values checked bitwise", meta.Seed, draws, total)
		})
	}
}

type runMeta struct {
	Seed uint64 `json:"seed"`
}

func readMeta(path string) (runMeta, error) {
	var doc struct {
		Meta runMeta `json:"meta"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return runMeta{}, err
	}
	err = json.Unmarshal(b, &doc)
	return doc.Meta, err
}
