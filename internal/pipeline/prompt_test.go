package pipeline

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/tensor"
)

// contextOf runs a 1-step generation and returns the text context it used.
func contextOf(t *testing.T, p *Pipeline, req Request) *tensor.Tensor {
	t.Helper()
	var got *tensor.Tensor
	tr := &Trace{Context: func(c *tensor.Tensor) { got = c.Clone() }}
	if _, err := p.GenerateTrace(context.Background(), req, nil, tr); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestEmphasisScalesTokens: "(sunset:1.5)" multiplies the embedding of the
// "sunset" token by 1.5 relative to every other token (all of them then
// share one rescaling factor that restores the mean), and nothing else
// changes the ids.
func TestEmphasisScalesTokens(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-diffusers")
	base := Request{Prompt: "sunset, oil painting", Width: 64, Height: 64, Steps: 1, CFGScale: 1,
		Sampler: "ddim", Schedule: "default", ClipSkip: 1}
	plain := contextOf(t, p, base)
	weighted := base
	weighted.Prompt = "(sunset:1.5), oil painting"
	got := contextOf(t, p, weighted)
	dim := plain.Shape[2]
	ratio := func(tok int) float64 {
		var num, den float64
		for j := 0; j < dim; j++ {
			num += float64(got.Data[tok*dim+j]) * float64(plain.Data[tok*dim+j])
			den += float64(plain.Data[tok*dim+j]) * float64(plain.Data[tok*dim+j])
		}
		return num / den
	}
	f := ratio(2) // "," : weight 1, only the common factor
	for tok := 0; tok < 77; tok++ {
		want := f
		if tok == 1 { // "sunset" follows BOS
			want = 1.5 * f
		}
		if r := ratio(tok); math.Abs(r-want) > 1e-5*want {
			t.Fatalf("token %d scaled by %.7f, want %.7f", tok, r, want)
		}
	}
	var meanPlain, meanGot float64
	for i := range plain.Data {
		meanPlain += float64(plain.Data[i])
		meanGot += float64(got.Data[i])
	}
	if math.Abs(meanPlain-meanGot) > 1e-4*math.Abs(meanPlain) {
		t.Fatalf("mean changed: %g -> %g", meanPlain, meanGot)
	}
}

// TestLongPromptChunks: in chunk mode a 100-word prompt gives two chunks
// (the negative prompt is padded to two), and the first chunk is exactly
// what truncate mode computes.
func TestLongPromptChunks(t *testing.T) {
	p := loadPipeline(t, "../../testdata/model-diffusers")
	long := strings.Repeat("red boat ", 50)
	req := Request{Prompt: long, Width: 64, Height: 64, Steps: 1, CFGScale: 7.5,
		Sampler: "ddim", Schedule: "default", ClipSkip: 1}
	truncated := contextOf(t, p, req)
	req.LongPrompts = "chunk"
	chunked := contextOf(t, p, req)
	dim := truncated.Shape[2]
	if want := []int{2, 154, dim}; !tensor.SameShape(chunked.Shape, want) {
		t.Fatalf("chunked context shape %v, want %v", chunked.Shape, want)
	}
	for row := 0; row < 2; row++ {
		for i := 0; i < 77*dim; i++ {
			a, b := truncated.Data[row*77*dim+i], chunked.Data[row*154*dim+i]
			if math.Float32bits(a) != math.Float32bits(b) {
				t.Fatalf("row %d: first chunk differs from truncate mode at %d: %g vs %g", row, i, b, a)
			}
		}
	}
}

func TestLongPromptModeValidated(t *testing.T) {
	req := Request{Prompt: "x", Width: 64, Height: 64, Steps: 1, CFGScale: 7.5, Sampler: "ddim", Schedule: "default", LongPrompts: "wrap"}
	if err := req.Validate(); err == nil || !strings.Contains(err.Error(), "long-prompt mode") {
		t.Fatalf("Validate = %v, want a long-prompt mode error", err)
	}
}

// TestTextEncodersJoin: a model with several text encoders conditions on
// their outputs joined token by token (SDXL joins two); with the same
// encoder twice, each token's row is the one encoder's row twice.
func TestTextEncodersJoin(t *testing.T) {
	one := loadPipeline(t, "../../testdata/model-diffusers")
	m, err := model.Load("../../testdata/model-diffusers", model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.TextEncoders = append(m.TextEncoders, m.TextEncoders[0])
	two, err := New(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := Request{Prompt: "a (red:1.2) boat", NegativePrompt: "blurry", LongPrompts: "chunk", ClipSkip: 1}
	wantCond, err := one.encode(req, true)
	if err != nil {
		t.Fatal(err)
	}
	gotCond, err := two.encode(req, true)
	if err != nil {
		t.Fatal(err)
	}
	want, got := wantCond.Text, gotCond.Text
	n, l, c := want.Shape[0], want.Shape[1], want.Shape[2]
	if !slices.Equal(got.Shape, []int{n, l, 2 * c}) {
		t.Fatalf("shape %v, want [%d %d %d]", got.Shape, n, l, 2*c)
	}
	for r := 0; r < n*l; r++ {
		row := want.Data[r*c : (r+1)*c]
		refcheck.Bitwise(t, fmt.Sprintf("row %d, first encoder", r), got.Data[2*r*c:(2*r+1)*c], row)
		refcheck.Bitwise(t, fmt.Sprintf("row %d, second encoder", r), got.Data[(2*r+1)*c:(2*r+2)*c], row)
	}
}
