package pipeline

import (
	"bytes"
	"context"
	"image"
	"testing"

	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
)

// TestBFloat16Runs measures Precision "bf16" against the float32
// reference runs of diffusers (the same seeds, prompts and samplers): the
// decoded image and the PNG move by bfloat16's rounding of every
// convolution and linear layer of the U-Net and the decoder, compounded
// over the steps. The bars are about 1.5x the differences measured
// (beside each); on a CPU without AVX-512 BF16 the Go kernel gives the
// same bits.
func TestBFloat16Runs(t *testing.T) {
	for _, tc := range []struct {
		model, dir string
		rr         run
		decodedTol float64 // decoded image in [-1, 1], absolute
		maxLevel   int     // PNG, 8-bit levels ...
		maxShare   float64 // ... in at most this share of the pixels
	}{
		// measured: decoded 0.0212, 3 levels in 70.0% of pixels
		{"../../testdata/model-fp16/sd1-tiny.fp16.safetensors", "../../testdata/e2e", referenceRuns()[0], 0.032, 5, 0.85},
		// measured: decoded 0.0497, 6 levels in 84.0%
		{sd2Layouts[0].path, "../../testdata/sd2", sd2Runs()[0], 0.075, 9, 0.95},
		// measured: decoded 0.0142, 2 levels in 51.8%
		{sdxlLayouts[1].path, sdxlDir, sdxlRuns()[3], 0.022, 3, 0.65},
	} {
		t.Run(tc.rr.name, func(t *testing.T) {
			// The portable build keeps the one-step Turbo run: the
			// bfloat16 arithmetic is the Go twin's everywhere, and its
			// float32 parts are slow there.
			refcheck.SkipOnPortable(t, tc.rr.name == "e2e_turbo_eulera1_cfg0")
			p := loadPipeline(t, tc.model)
			f, err := safetensors.Open(tc.dir + "/" + tc.rr.name + ".safetensors")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			req := tc.rr.req
			req.Precision = "bf16"
			var decoded *tensor.Tensor
			img, err := p.GenerateTrace(context.Background(), req, nil, &Trace{Decoded: func(x *tensor.Tensor) { decoded = x }})
			if err != nil {
				t.Fatal(err)
			}
			if nn.CurrentPrecision() != nn.Float32 {
				t.Fatalf("precision left at %v after the run", nn.CurrentPrecision())
			}
			d := refcheck.MaxAbsDiff(t, "decoded", decoded.Data, fixtureTensor(t, f, "decoded"))
			refcheck.Check(t, "bf16 decoded image against diffusers' float32", d, tc.decodedTol)
			refcheck.ImageWithin(t, img, tc.dir+"/"+tc.rr.name+".png", tc.maxLevel, tc.maxShare)
			// It really ran in bfloat16: far outside float32's bar.
			if d <= 10*decodedTol {
				t.Errorf("bf16 decoded image within %.2g of float32's: did it run in bfloat16?", d)
			}
		})
	}
}

// TestBFloat16SameBitsAnyThreadCount: a bf16 picture is as reproducible as
// a float32 one, the same bits for any thread count.
func TestBFloat16SameBitsAnyThreadCount(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-fp16/sd1-tiny.fp16.safetensors")
	req := Request{Prompt: "a red boat", NegativePrompt: "blurry", Width: 64, Height: 48, Steps: 3, CFGScale: 6,
		Sampler: "euler_a", Schedule: "default", Seed: 11, Precision: "bf16"}
	defer nn.SetThreads(nn.Threads())
	defer nn.SplitAllWork()()
	var ref *image.RGBA
	for _, threads := range []int{1, 2, 3} {
		nn.SetThreads(threads)
		got, err := p.Generate(context.Background(), req, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = got
		} else if !bytes.Equal(got.Pix, ref.Pix) {
			t.Errorf("%d threads gave different pixels than 1 thread", threads)
		}
	}
}
