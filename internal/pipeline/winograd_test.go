package pipeline

import (
	"context"
	"slices"
	"testing"

	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/tensor"
)

// TestWinogradRuns holds Precision "fp32-winograd", with every 3x3
// convolution of the tiny models taken by F(2x2, 3x3) (the sizes of real
// models pick only the large ones), to the same bars as the float32
// reference runs: text context, every step's latents, the decoded image
// and the PNG against diffusers.
func TestWinogradRuns(t *testing.T) {
	defer nn.WinogradEverywhere()()
	p := loadPipeline(t, "../../testdata/model-diffusers")
	for _, rr := range referenceRuns()[:4] {
		t.Run(rr.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, false) // the SDXL run below covers it
			rr.req.Precision = "fp32-winograd"
			checkReferenceRun(t, p, "../../testdata/e2e", rr)
		})
	}
	// It did run: the decoded image is not the direct convolution's.
	t.Run("not direct", func(t *testing.T) {
		refcheck.SkipOnPortable(t, false)
		checkNotDirect(t, p)
	})
	sx := loadPipeline(t, sdxlLayouts[1].path)
	for _, rr := range sdxlRuns()[:1] {
		t.Run("sdxl/"+rr.name, func(t *testing.T) {
			rr.req.Precision = "fp32-winograd"
			checkReferenceRun(t, sx, sdxlDir, rr)
		})
	}
}

// checkNotDirect fails t if fp32-winograd decodes the first reference run
// to the direct convolution's bits.
func checkNotDirect(t *testing.T, p *Pipeline) {
	decoded := func(precision string) []float32 {
		var d []float32
		req := referenceRuns()[0].req
		req.Precision = precision
		if _, err := p.GenerateTrace(context.Background(), req, nil, &Trace{Decoded: func(x *tensor.Tensor) { d = x.Data }}); err != nil {
			t.Fatal(err)
		}
		return d
	}
	if slices.Equal(decoded("fp32"), decoded("fp32-winograd")) {
		t.Error("fp32-winograd decoded the float32 run's bits")
	}
}
