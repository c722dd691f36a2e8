package model

import (
	"math"
	"testing"

	"github.com/imggen/imggen/internal/weights"
)

// TestMatrixViewsAreTheStoredTensors: weights.Loader.Matrix hands out views
// of the mapped file (float16 kept as float16); widened, every one must equal
// what Float32 reads, in both layouts.
func TestMatrixViewsAreTheStoredTensors(t *testing.T) {
	tests := []struct {
		path    string
		wantF16 bool
	}{
		{fp16File, true},
		{diffusersIn, false},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			m := load(t, tc.path)
			for _, c := range []*Component{m.UNetWeights.(*Component), m.VAEWeights.(*Component), m.TextEncoders[0].Weights.(*Component)} {
				l := weights.NewLoader(c)
				for _, name := range c.Names() {
					shape, _ := c.Shape(name)
					if len(shape) == 0 {
						continue
					}
					mat := l.Matrix(name, shape...)
					if err := l.Err(); err != nil {
						t.Fatal(err)
					}
					if (mat.F16 != nil) != tc.wantF16 {
						t.Fatalf("%s: float16 view %v, want %v", name, mat.F16 != nil, tc.wantF16)
					}
					want, err := c.Float32(name)
					if err != nil {
						t.Fatal(err)
					}
					got := make([]float32, mat.Rows*mat.Cols)
					mat.Widen(got)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%s[%d]: %g, want %g", name, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}
