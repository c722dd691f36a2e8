package nn

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/weights"
)

// TestLowRankShapes: a LoRA pair must fit its layer exactly (in, out,
// kernel, a shared rank); 1x1 convolution shapes fit a linear layer and
// linear shapes a 1x1 convolution, as LoRA files write either.
func TestLowRankShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	lin := &Linear{In: 4, Out: 3, w: weights.Matrix{Rows: 3, Cols: 4, F32: randSlice(r, 12)}}
	conv3 := &Conv2d{In: 4, Out: 3, K: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
		w: weights.Matrix{Rows: 3, Cols: 36, F32: randSlice(r, 108)}, b: randSlice(r, 3)}
	conv1 := &Conv2d{In: 4, Out: 3, K: 1, Stride: 1, w: weights.Matrix{Rows: 3, Cols: 4, F32: randSlice(r, 12)}, b: randSlice(r, 3)}
	for _, tc := range []struct {
		name     string
		layer    Adaptable
		down, up []int
		ok       bool
	}{
		{"linear", lin, []int{2, 4}, []int{3, 2}, true},
		{"linear as 1x1", lin, []int{2, 4, 1, 1}, []int{3, 2, 1, 1}, true},
		{"linear wrong in", lin, []int{2, 5}, []int{3, 2}, false},
		{"linear wrong out", lin, []int{2, 4}, []int{4, 2}, false},
		{"linear rank mismatch", lin, []int{2, 4}, []int{3, 1}, false},
		{"linear given 3x3", lin, []int{2, 4, 3, 3}, []int{3, 2, 1, 1}, false},
		{"locon 3x3", conv3, []int{2, 4, 3, 3}, []int{3, 2, 1, 1}, true},
		{"3x3 given 1x1", conv3, []int{2, 4, 1, 1}, []int{3, 2, 1, 1}, false},
		{"3x3 up not 1x1", conv3, []int{2, 4, 3, 3}, []int{3, 2, 3, 3}, false},
		{"1x1 as linear", conv1, []int{2, 4}, []int{3, 2}, true},
		{"zero rank", conv1, []int{0, 4}, []int{3, 0}, false},
	} {
		numel := func(s []int) int {
			n := 1
			for _, d := range s {
				n *= d
			}
			return n
		}
		_, err := tc.layer.NewLowRank(make([]float32, numel(tc.down)), tc.down, make([]float32, numel(tc.up)), tc.up, 1)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "do not fit")) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
