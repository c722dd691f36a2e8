package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// TestWinogradConv: F(2x2, 3x3) against the float64 definition, next to
// the direct float32 convolution's own error, for odd and even sizes,
// bands of tile rows, float16 weights, through Forward, NormConv and
// UpsampleConv, and the same bits for any thread count.
func TestWinogradConv(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct {
		name          string
		in, out, h, w int
		limit         int
	}{
		{"even", 6, 10, 8, 12, 1 << 20},
		{"odd", 5, 7, 9, 11, 1 << 20},
		{"banded", 4, 9, 9, 7, 16 * 4 * 9 * 2},
		{"wide", 17, 33, 3, 40, 1 << 20},
	} {
		w := randSlice(r, tc.out*tc.in*9)
		c := &Conv2d{In: tc.in, Out: tc.out, K: 3, Stride: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1,
			w: weights.Matrix{Rows: tc.out, Cols: tc.in * 9, F32: w}, b: randSlice(r, tc.out)}
		x := tensor.From(randSlice(r, 2*tc.in*tc.h*tc.w), 2, tc.in, tc.h, tc.w)
		exact := naiveConv(c, x)
		direct := c.Forward(x)
		prevLimit, prevMin, prevCh := maxIm2colFloats, shiftedMinWidth, minWinogradChannels
		maxIm2colFloats, shiftedMinWidth, minWinogradChannels = tc.limit, 1, 1
		var ref *tensor.Tensor
		for _, threads := range []int{1, 2, 3} {
			SetThreads(threads)
			restore := SplitAllWork()
			poisonScratch()
			var got *tensor.Tensor
			withPrecision(FP32Winograd, func() { got = c.Forward(x) })
			restore()
			if ref == nil {
				ref = got
				continue
			}
			sameBits(t, tc.name, got.Data, ref.Data)
		}
		SetThreads(2)
		var errW, errD float64
		for i, v := range exact.Data {
			errW = max(errW, math.Abs(float64(ref.Data[i]-v)))
			errD = max(errD, math.Abs(float64(direct.Data[i]-v)))
		}
		t.Logf("%s: max error winograd %.3g, direct %.3g", tc.name, errW, errD)
		if errW > 4*max(errD, 1e-6) {
			t.Errorf("%s: winograd error %.3g (direct %.3g)", tc.name, errW, errD)
		}
		checkFusedLayers(t, r, tc.name, c, x, FP32Winograd)
		maxIm2colFloats, shiftedMinWidth, minWinogradChannels = prevLimit, prevMin, prevCh
	}
}
