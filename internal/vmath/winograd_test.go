package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinogradSteps: every kernel set computes the transform steps with the
// same bits as the formulas, the 16-wide part and the tail.
func TestWinogradSteps(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	forEachImpl(t, func(t *testing.T, _ Impl) {
		for _, n := range []int{1, 16, 37, 100} {
			in := make([][]float32, 4)
			for i := range in {
				in[i] = make([]float32, n)
				for j := range in[i] {
					in[i][j] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(7)-3)))
				}
			}
			out := make([][]float32, 4)
			for i := range out {
				out[i] = make([]float32, n)
			}
			WinogradIn4(in[0], in[1], in[2], in[3], out[0], out[1], out[2], out[3])
			s0, s1 := make([]float32, n), make([]float32, n)
			WinogradOut2(in[0], in[1], in[2], in[3], s0, s1)
			for j := 0; j < n; j++ {
				a, b, c, d := in[0][j], in[1][j], in[2][j], in[3][j]
				want := []float32{a - c, b + c, c - b, b - d, (a + b) + c, (b - c) - d}
				got := []float32{out[0][j], out[1][j], out[2][j], out[3][j], s0[j], s1[j]}
				for k := range want {
					if math.Float32bits(got[k]) != math.Float32bits(want[k]) {
						t.Fatalf("n %d, value %d, output %d: %v, want %v", n, j, k, got[k], want[k])
					}
				}
			}
		}
	})
}
