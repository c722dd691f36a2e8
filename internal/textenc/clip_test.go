package textenc

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// Helpers are prefixed "clip" because the tokenizer tests share the package.

const (
	clipModelDir = "../../testdata/model-diffusers/text_encoder"
	// clipTol bounds the max abs error against transformers' float32 output,
	// about 5x the worst measured on either kernel set (only the summation
	// order differs); measured 1.5e-6.
	clipTol = 7.5e-6
)

// clipConfig reads config.json, which also checks Config's json tags.
func clipConfig(t testing.TB) Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(clipModelDir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clipSource reads every tensor of the text encoder's safetensors file.
func clipSource(t testing.TB) refcheck.Tensors {
	t.Helper()
	src, err := refcheck.ReadTensors(filepath.Join(clipModelDir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func clipModel(t testing.TB) *TextModel {
	t.Helper()
	m, err := LoadTextModel(clipConfig(t), weights.NewLoader(clipSource(t)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func clipOpen(t testing.TB, path string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// clipIDs reads an I64 [batch, seq] tensor as rows of ids.
func clipIDs(t testing.TB, f *safetensors.File, name string) [][]int {
	t.Helper()
	in, ok := f.Info(name)
	if !ok || len(in.Shape) != 2 {
		t.Fatalf("fixture tensor %q missing or not 2-D", name)
	}
	raw, err := f.Int64(name)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([][]int, in.Shape[0])
	for b := range ids {
		for _, v := range raw[b*in.Shape[1] : (b+1)*in.Shape[1]] {
			ids[b] = append(ids[b], int(v))
		}
	}
	return ids
}

// clipCheck holds got to the fixture tensor want (shape and values) within
// clipTol.
func clipCheck(t *testing.T, what string, got *tensor.Tensor, f *safetensors.File, want string) {
	t.Helper()
	in, ok := f.Info(want)
	if !ok {
		t.Fatalf("fixture lacks %s", want)
	}
	if !tensor.SameShape(got.Shape, in.Shape) {
		t.Fatalf("%s: shape %v, want %v", want, got.Shape, in.Shape)
	}
	w, err := f.Float32(want)
	if err != nil {
		t.Fatal(err)
	}
	refcheck.Within(t, what, got.Data, w, clipTol)
}

func TestCLIPTextEncoderFixture(t *testing.T) {
	m := clipModel(t)
	f := clipOpen(t, "../../testdata/text_encoder.safetensors")
	ids := clipIDs(t, f, "input_ids")
	hs, err := m.HiddenStates(ids)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(skip int) *tensor.Tensor {
		y, err := m.Encode(ids, skip)
		if err != nil {
			t.Fatal(err)
		}
		return y
	}
	last := encode(1)
	cases := []struct {
		name string
		got  *tensor.Tensor
	}{
		{"hidden_states.0", hs[0]},
		{"hidden_states.1", hs[1]},
		{"hidden_states.2", hs[2]},
		{"hidden_states.3", hs[3]},
		{"hidden_states.4", hs[4]},
		{"last_hidden_state", last},
		{"penultimate_ln", encode(2)},
		{"pooled", Pooled(last, ids)},
	}
	for _, c := range cases {
		clipCheck(t, c.name, c.got, f, c.name)
	}

	// Deeper skips pick the matching hidden state (no fixture: check
	// against final_layer_norm of HiddenStates, bit for bit).
	for skip := 1; skip <= len(m.layers); skip++ {
		want := m.finalLN.Forward(hs[len(hs)-skip])
		refcheck.Bitwise(t, fmt.Sprintf("Encode(skip %d) against final_layer_norm(hidden_states[-%d])", skip, skip), encode(skip).Data, want.Data)
	}
}

// TestCLIPSkipE2E checks the embeddings the pipelines feed the U-Net:
// diffusers' clip_skip=1 skips the prompt only, A1111 skips both.
func TestCLIPSkipE2E(t *testing.T) {
	m := clipModel(t)
	cases := []struct {
		file                string
		promptSkip, negSkip int
	}{
		{"e2e_euler20_cfg7.5_clipskip1.safetensors", 2, 1},
		{"e2e_euler20_cfg7.5_clipskip2_both.safetensors", 2, 2},
	}
	for _, c := range cases {
		f := clipOpen(t, filepath.Join("../../testdata/e2e", c.file))
		for _, e := range []struct {
			ids, embeds string
			skip        int
		}{
			{"input_ids.prompt", "prompt_embeds", c.promptSkip},
			{"input_ids.negative", "negative_prompt_embeds", c.negSkip},
		} {
			got, err := m.Encode(clipIDs(t, f, e.ids), e.skip)
			if err != nil {
				t.Fatal(err)
			}
			clipCheck(t, fmt.Sprintf("%s %s (skip %d)", c.file, e.embeds, e.skip), got, f, e.embeds)
		}
	}
}

func TestCLIPLoadErrors(t *testing.T) {
	cfg := clipConfig(t)
	const fc1 = "text_model.encoder.layers.2.mlp.fc1.weight"
	const fln = "text_model.final_layer_norm.weight"
	const tok = "text_model.embeddings.token_embedding.weight"
	cases := []struct {
		name string
		edit func(refcheck.Tensors, *Config)
		want string // substring of the error
	}{
		{"missing", func(s refcheck.Tensors, _ *Config) { delete(s, fc1) }, fc1},
		{"mis-shaped", func(s refcheck.Tensors, _ *Config) { s[fln] = tensor.New(31) }, fln},
		{"vocab", func(s refcheck.Tensors, _ *Config) { s[tok] = tensor.New(49407, 32) }, tok},
		{"more layers than file", func(_ refcheck.Tensors, c *Config) { c.NumHiddenLayers = 5 }, "text_model.encoder.layers.4."},
		{"activation", func(_ refcheck.Tensors, c *Config) { c.HiddenAct = "relu" }, "relu"},
	}
	for _, c := range cases {
		src, cfg := clipSource(t), cfg
		c.edit(src, &cfg)
		_, err := LoadTextModel(cfg, weights.NewLoader(src))
		t.Logf("%s: %v", c.name, err)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
}

func TestCLIPEncodeErrors(t *testing.T) {
	m := clipModel(t)
	row := func(id int) []int {
		r := make([]int, 77)
		for i := range r {
			r[i] = 49407
		}
		r[0], r[1] = 49406, id
		return r
	}
	cases := []struct {
		name string
		ids  [][]int
		skip int
	}{
		{"skip 0", [][]int{row(320)}, 0},
		{"skip past layers", [][]int{row(320)}, 5},
		{"id = vocab", [][]int{row(320), row(49408)}, 1},
		{"negative id", [][]int{row(-1)}, 1},
		{"no rows", nil, 1},
		{"ragged", [][]int{row(320), row(320)[:76]}, 1},
		{"too long", [][]int{append(row(320), 49407)}, 1},
	}
	for _, c := range cases {
		if _, err := m.Encode(c.ids, c.skip); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if _, err := m.Encode([][]int{row(320)}, 4); err != nil {
		t.Errorf("skip = layers: %v", err)
	}
}

// BenchmarkCLIPEncode encodes a CFG pair (prompt, "") with the tiny model.
func BenchmarkCLIPEncode(b *testing.B) {
	m := clipModel(b)
	f := clipOpen(b, "../../testdata/text_encoder.safetensors")
	ids := clipIDs(b, f, "input_ids")[:2]
	for b.Loop() {
		if _, err := m.Encode(ids, 1); err != nil {
			b.Fatal(err)
		}
	}
}
