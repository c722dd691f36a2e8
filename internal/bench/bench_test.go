package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

const (
	testdata     = "../../testdata"
	fp16Fixture  = testdata + "/model-fp16/sd1-tiny.fp16.safetensors"
	diffusersDir = testdata + "/model-diffusers"
)

// loadPipeline loads the model at path for the test.
func loadPipeline(t *testing.T, path string) (*model.Model, *pipeline.Pipeline) {
	t.Helper()
	m, err := model.Load(path, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	p, err := pipeline.New(m, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m, p
}

// TestFLOPsCountTheWorkDone holds the analytic counts to the multiply-adds
// the networks really run (gemm counts every product), on the tiny fixture
// model at square and odd latent sizes: the independent check of the
// formulas, whose SD 1.5 totals TestFLOPsKnownTotals then pins.
func TestFLOPsCountTheWorkDone(t *testing.T) {
	m, p := loadPipeline(t, diffusersDir)
	r := rand.New(rand.NewPCG(1, 2))
	randn := func(shape ...int) *tensor.Tensor {
		x := tensor.New(shape...)
		for i := range x.Data {
			x.Data[i] = float32(r.NormFloat64())
		}
		return x
	}
	work := func(f func()) int64 {
		before := gemm.ReadStats()
		f()
		return 2 * gemm.ReadStats().Sub(before).MultiplyAdds
	}
	// SDXL: per-level transformer depth and the added conditioning.
	xl, err := model.Load("../../testdata/sdxl/model", model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer xl.Close()
	xu, err := unet.Load(xl.UNet, weights.NewLoader(xl.UNetWeights))
	if err != nil {
		t.Fatal(err)
	}
	xcond := unet.Conditioning{Text: randn(2, ContextTokens, xl.UNet.CrossAttentionDim), Pooled: randn(2, 16), TimeIDs: randn(2, 6)}
	got := work(func() {
		if _, err := xu.Forward(randn(2, 4, 12, 10), []float64{500, 500}, xcond, nil); err != nil {
			t.Fatal(err)
		}
	})
	if want := UNetFLOPs(xl.UNet, 2, 12, 10); got != want {
		t.Errorf("SDXL U-Net, batch 2, latent 12x10: %d FLOP run, %d counted", got, want)
	}
	for _, sz := range []struct{ h, w int }{{16, 16}, {12, 10}, {9, 7}} {
		text := randn(2, ContextTokens, m.UNet.CrossAttentionDim)
		got := work(func() {
			if _, err := p.UNet().Forward(randn(2, 4, sz.h, sz.w), []float64{500, 500}, unet.Conditioning{Text: text}, nil); err != nil {
				t.Fatal(err)
			}
		})
		if want := UNetFLOPs(m.UNet, 2, sz.h, sz.w); got != want {
			t.Errorf("U-Net, batch 2, latent %dx%d: %d FLOP run, %d counted", sz.h, sz.w, got, want)
		}
	}
	// The 3x3 convolutions of images 32 px and wider also compute the two
	// padding columns of each row (nn's offset-A path), work the count
	// leaves out; so the decoder is checked on latents whose every level
	// stays narrower, and the overhead is logged at a larger size.
	for _, sz := range []struct{ h, w int }{{3, 3}, {3, 2}, {2, 1}} {
		got := work(func() { p.VAE().Decode(randn(1, 4, sz.h, sz.w)) })
		if want := VAEDecodeFLOPs(m.VAE, sz.h, sz.w); got != want {
			t.Errorf("VAE decode, latent %dx%d: %d FLOP run, %d counted", sz.h, sz.w, got, want)
		}
	}
	got = work(func() { p.VAE().Decode(randn(1, 4, 16, 16)) })
	t.Logf("VAE decode of a 16x16 latent: the kernels ran %.1f%% more than the count (padding columns)",
		100*(float64(got)/float64(VAEDecodeFLOPs(m.VAE, 16, 16))-1))
	ids := [][]int{p.Tokenizer().Encode("a red boat").IDs, p.Tokenizer().Encode("").IDs}
	got = work(func() {
		if _, err := p.TextModel().Encode(ids, 1); err != nil {
			t.Fatal(err)
		}
	})
	if want := TextFLOPs(m.TextEncoders[0].Config, 2); got != want {
		t.Errorf("text encoder, 2 prompts: %d FLOP run, %d counted", got, want)
	}
}

// TestFLOPsKnownTotals pins the analytic counts at SD 1.5's shapes (in
// GFLOP, multiply-add = 2), the figures the README quotes; the formulas
// themselves are checked against the work done by TestFLOPsCountTheWorkDone.
// The CLIP figure, 13, is given to two digits: one 77-token prompt is 13.08
// GFLOP of linear layers plus 0.22 of attention products.
func TestFLOPsKnownTotals(t *testing.T) {
	cases := []struct {
		name      string
		got       int64
		want, tol float64 // GFLOP, relative
	}{
		{"unet 32x32 batch 2", UNetFLOPs(unet.SD15(), 2, 32, 32), 360, 0.01},
		{"unet 64x64 batch 2", UNetFLOPs(unet.SD15(), 2, 64, 64), 1607, 0.01},
		{"vae decode 32x32", VAEDecodeFLOPs(vae.SD15(), 32, 32), 622, 0.01},
		{"vae decode 64x64", VAEDecodeFLOPs(vae.SD15(), 64, 64), 2515, 0.01},
		{"clip 1 prompt", TextFLOPs(textenc.SD15(), 1), 13, 0.5 / 13},
	}
	for _, c := range cases {
		g := float64(c.got) / 1e9
		t.Logf("%s: %.2f GFLOP (known %g)", c.name, g, c.want)
		if math.Abs(g-c.want) > c.tol*c.want {
			t.Errorf("%s: %.2f GFLOP, want %g within %.1f%%", c.name, g, c.want, 100*c.tol)
		}
	}
	// Structure: the U-Net is linear in the batch, the text encoder in the
	// prompts; odd latent sides (resized to the skip size) count sensibly.
	u := unet.SD15()
	if a, b := UNetFLOPs(u, 1, 64, 64), UNetFLOPs(u, 2, 64, 64); 2*a != b {
		t.Errorf("unet batch 1 %d, batch 2 %d", a, b)
	}
	if a, b := TextFLOPs(textenc.SD15(), 1), TextFLOPs(textenc.SD15(), 2); 2*a != b {
		t.Errorf("text 1 prompt %d, 2 prompts %d", a, b)
	}
	a, b, c := UNetFLOPs(u, 1, 64, 64), UNetFLOPs(u, 1, 61, 67), UNetFLOPs(u, 1, 72, 64)
	if !(a < b && b < c) {
		t.Errorf("unet 64x64 %d, 61x67 %d, 72x64 %d: not increasing", a, b, c)
	}
	if lin := 2 * 12 * 77 * (4*768*768 + 2*768*3072); TextFLOPs(textenc.SD15(), 1)-int64(lin) != 2*2*12*77*77*768 {
		t.Errorf("text FLOPs are not linears plus attention")
	}
}

// TestF16 checks float32 -> float16 rounding: every half value round-trips,
// halfway cases go to even, anything above halfway goes up, and the edges
// (overflow, subnormals, underflow, NaN) are right.
func TestF16(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := safetensors.F16ToF32(uint16(h))
		if f != f {
			if g := f32ToF16(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x -> %#04x", h, g)
			}
			continue
		}
		if g := f32ToF16(f); g != uint16(h) {
			t.Fatalf("%#04x (%g) -> %#04x", h, f, g)
		}
		if h&0x7fff >= 0x7c00-1 { // the last finite value and infinity have no finite successor
			continue
		}
		lo, hi := float64(f), float64(safetensors.F16ToF32(uint16(h+1)))
		mid := float32((lo + hi) / 2) // exact: one bit more than a half
		even := uint16(h)
		if h&1 == 1 {
			even = uint16(h + 1)
		}
		if g := f32ToF16(mid); g != even {
			t.Fatalf("midpoint of %#04x and %#04x (%g) -> %#04x, want %#04x", h, h+1, mid, g, even)
		}
		up := math.Nextafter32(mid, float32(math.Copysign(math.Inf(1), hi)))
		if g := f32ToF16(up); g != uint16(h+1) {
			t.Fatalf("just past the midpoint of %#04x and %#04x (%g) -> %#04x", h, h+1, up, g)
		}
	}
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{65504, 0x7bff}, {65519.99, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {0x1p-24, 0x0001}, {0x1p-25, 0}, {0x1.000002p-25, 0x0001},
		{1e-40, 0}, {-1e-40, 0x8000}, {float32(math.Copysign(0, -1)), 0x8000},
	} {
		if g := f32ToF16(c.f); g != c.want {
			t.Errorf("f32ToF16(%g) = %#04x, want %#04x", c.f, g, c.want)
		}
	}
}

// fixtureSpec is a Spec with the tiny fixture model's configs.
func fixtureSpec(t *testing.T, dtype string) Spec {
	t.Helper()
	m, err := model.Load(fp16Fixture, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	return Spec{UNet: m.UNet, VAE: m.VAE, Text: m.TextEncoders[0].Config, DType: dtype, Seed: 7}
}

func readHeader(t *testing.T, path string) (map[string]json.RawMessage, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint64(b))
	h := b[8 : 8+n]
	if n%8 != 0 || len(bytes.TrimRight(h, " ")) < n-7 || h[0] != '{' {
		t.Errorf("header of %d bytes is not an object padded with up to 7 spaces to a multiple of 8", n)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(h, &m); err != nil {
		t.Fatal(err)
	}
	// Names appear sorted.
	var names []string
	dec := json.NewDecoder(bytes.NewReader(h))
	dec.Token()
	for dec.More() {
		tok, _ := dec.Token()
		names = append(names, tok.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if !slices.IsSorted(names) {
		t.Error("header names are not sorted")
	}
	return m, n
}

// TestTinyCheckpoint generates checkpoints with the fixture model's configs:
// the key names and shapes are exactly the fixture's (a file converted by
// diffusers' own script), model.Load infers the same configs, the values
// are deterministic, f16 is f32 rounded, and a generation through the
// pipeline stays finite.
func TestTinyCheckpoint(t *testing.T) {
	dir := t.TempDir()
	fix, err := safetensors.Open(fp16Fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer fix.Close()
	files := map[string]string{}
	for _, dt := range []string{"f16", "f32"} {
		s := fixtureSpec(t, dt)
		path := filepath.Join(dir, "tiny-"+dt+".safetensors")
		sum, err := Write(context.Background(), path, s)
		if err != nil {
			t.Fatal(err)
		}
		files[dt] = path
		f, err := safetensors.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if !slices.Equal(f.Names(), fix.Names()) {
			t.Fatalf("%s: %d names, the fixture has %d; they differ", dt, len(f.Names()), len(fix.Names()))
		}
		var params int64
		for _, n := range f.Names() {
			a, _ := f.Info(n)
			b, _ := fix.Info(n)
			if !slices.Equal(a.Shape, b.Shape) || a.DType != strings.ToUpper(dt) {
				t.Errorf("%s: %s %v, fixture %v", n, a.DType, a.Shape, b.Shape)
			}
			params += int64(a.Numel())
			if a.Begin%int64(safetensors.DTypeSize[a.DType]) != 0 {
				t.Errorf("%s: misaligned at %d", n, a.Begin)
			}
		}
		st, _ := os.Stat(path)
		if sum.Bytes != st.Size() || sum.Tensors != len(fix.Names()) {
			t.Errorf("summary %+v, file %d bytes", sum, st.Size())
		}
		if p := Params(mustTensors(t, s)); p[model.CompUNet]+p[model.CompVAE]+p[model.CompText] != params {
			t.Errorf("params %v, file holds %d", p, params)
		}
		if md := f.Metadata(); md["seed"] != "7" || md["dtype"] != dt {
			t.Errorf("metadata %v", md)
		}
		readHeader(t, path)

		m, err := model.Load(path, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.UNet, s.UNet) || !reflect.DeepEqual(m.VAE, s.VAE) || !reflect.DeepEqual(m.TextEncoders[0].Config, s.Text) {
			t.Errorf("%s: loaded configs differ from the spec's", dt)
		}
		m.Close()
	}

	// Deterministic, and f16 is f32 rounded.
	again := filepath.Join(dir, "again.safetensors")
	if _, err := Write(context.Background(), again, fixtureSpec(t, "f16")); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(files["f16"])
	b, _ := os.ReadFile(again)
	if !bytes.Equal(a, b) {
		t.Error("two writes of one spec differ")
	}
	s := fixtureSpec(t, "f16")
	s.Seed++
	if _, err := Write(context.Background(), again, s); err != nil {
		t.Fatal(err)
	}
	if b, _ = os.ReadFile(again); bytes.Equal(a, b) {
		t.Error("another seed gives the same file")
	}
	f16, _ := safetensors.Open(files["f16"])
	defer f16.Close()
	f32, _ := safetensors.Open(files["f32"])
	defer f32.Close()
	for _, c := range []struct {
		name      string
		mean, rms float64
	}{
		{"model.diffusion_model.input_blocks.0.0.weight", 0, 1 / math.Sqrt(4*9)}, // fan_in 4x3x3
		{"first_stage_model.decoder.mid.attn_1.q.weight", 0, 1 / math.Sqrt(64)},
		{"first_stage_model.encoder.norm_out.weight", 1, 1},
		{"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight", 0, 0.02},
		{"model.diffusion_model.out.2.bias", 0, 0.01 / math.Sqrt(3)},
	} {
		h, _ := f16.Float32(c.name)
		w, _ := f32.Float32(c.name)
		var sum, sq float64
		for i := range w {
			if h[i] != safetensors.F16ToF32(f32ToF16(w[i])) {
				t.Fatalf("%s[%d]: f16 %g is not f32 %g rounded", c.name, i, h[i], w[i])
			}
			sum += float64(w[i])
			sq += float64(w[i]) * float64(w[i])
		}
		mean, rms := sum/float64(len(w)), math.Sqrt(sq/float64(len(w)))
		t.Logf("%s: %d values, mean %.4f, rms %.4f", c.name, len(w), mean, rms)
		if len(w) > 1000 && (math.Abs(mean-c.mean) > 0.1*c.rms || math.Abs(rms-c.rms) > 0.05*c.rms) {
			t.Errorf("%s: mean %g rms %g, want about %g and %g", c.name, mean, rms, c.mean, c.rms)
		}
	}

	// A whole generation through the pipeline gives an image, and the same
	// run driven stage by stage stays finite (Run checks every U-Net output
	// and the decoded image).
	_, p := loadPipeline(t, files["f16"])
	img, err := p.Generate(context.Background(), pipeline.Request{Prompt: "a red fox", Width: 64, Height: 48, Steps: 2,
		CFGScale: 7.5, Sampler: "euler", Schedule: "default", Seed: 1, ClipSkip: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	levels := map[uint8]bool{}
	for i, v := range img.Pix {
		if i%4 != 3 {
			levels[v] = true
		}
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 48 || len(levels) < 2 {
		t.Errorf("image %v with %d distinct levels", b, len(levels))
	}
	o := DefaultOptions()
	o.Width, o.Height, o.Threads, o.CeilingTime = 64, 48, 2, 0
	r, err := Run(context.Background(), files["f16"], o)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Finite || r.Batch != 2 || len(r.UNetCalls) != 2 || r.DType != "F16" {
		t.Errorf("report %+v", r)
	}
}

func mustTensors(t *testing.T, s Spec) []Tensor {
	t.Helper()
	ts, err := s.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestSD15KeySet lists SD 1.5's tensors and checks the known parameter
// counts of v1-5-pruned-emaonly.safetensors, then writes the header over a
// sparse (unwritten) data section and checks that model.Load infers exactly
// the SD15 configs from it.
func TestSD15KeySet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds SD 1.5's networks over a recorder (about 1 GB for a moment)")
	}
	s := SD15("f16", 0)
	ts := mustTensors(t, s)
	p := Params(ts)
	want := map[string]int64{model.CompUNet: 859_520_964, model.CompVAE: 83_653_863, model.CompText: 123_060_480}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("params %v, want %v", p, want)
	}
	var total int64
	for _, n := range p {
		total += n
	}
	if total != 1_066_235_307 {
		t.Errorf("%d parameters in all", total)
	}
	t.Logf("%d tensors, %d parameters: %v", len(ts), total, p)
	// As in the real file: the fixture's 996 tensors, 8 more text layers of
	// 16, position_ids, and 6 conv_shortcuts of resnets whose channel count
	// changes at SD 1.5's widths but not at the fixture's.
	if len(ts) != 996+8*16+1+6 {
		t.Errorf("%d tensors", len(ts))
	}
	shapes := map[string][]int{
		"model.diffusion_model.input_blocks.0.0.weight":                                     {320, 4, 3, 3},
		"model.diffusion_model.input_blocks.4.0.skip_connection.weight":                     {640, 320, 1, 1},
		"model.diffusion_model.output_blocks.2.1.conv.weight":                               {1280, 1280, 3, 3},
		"model.diffusion_model.output_blocks.8.2.conv.weight":                               {640, 640, 3, 3},
		"model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight":       {1280, 768},
		"model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.0.proj.weight":    {10240, 1280},
		"model.diffusion_model.time_embed.0.weight":                                         {1280, 320},
		"first_stage_model.decoder.mid.attn_1.q.weight":                                     {512, 512, 1, 1},
		"first_stage_model.decoder.up.0.block.0.nin_shortcut.weight":                        {128, 256, 1, 1},
		"first_stage_model.encoder.down.0.downsample.conv.weight":                           {128, 128, 3, 3},
		"first_stage_model.quant_conv.weight":                                               {8, 8, 1, 1},
		"first_stage_model.post_quant_conv.weight":                                          {4, 4, 1, 1},
		"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight":         {49408, 768},
		"cond_stage_model.transformer.text_model.embeddings.position_ids":                   {1, 77},
		"cond_stage_model.transformer.text_model.encoder.layers.11.self_attn.q_proj.weight": {768, 768},
		"cond_stage_model.transformer.text_model.final_layer_norm.weight":                   {768},
	}
	for _, tn := range ts {
		if sh, ok := shapes[tn.Name]; ok {
			if !slices.Equal(sh, tn.Shape) {
				t.Errorf("%s: %v, want %v", tn.Name, tn.Shape, sh)
			}
			delete(shapes, tn.Name)
		}
	}
	if len(shapes) != 0 {
		t.Errorf("missing %v", shapes)
	}

	path := filepath.Join(t.TempDir(), "sd15-sparse.safetensors")
	sum, err := write(context.Background(), path, s, ts, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2*total + 8*77; sum.Bytes < want || sum.Bytes > want+1<<20 {
		t.Errorf("file of %d bytes for %d parameters", sum.Bytes, total)
	}
	m, err := model.Load(path, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !reflect.DeepEqual(m.UNet, unet.SD15()) || !reflect.DeepEqual(m.VAE, vae.SD15()) || !reflect.DeepEqual(m.TextEncoders[0].Config, textenc.SD15()) {
		t.Errorf("inferred configs\n%+v\n%+v\n%+v", m.UNet, m.VAE, m.TextEncoders[0].Config)
	}
	rep, err := model.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.String(), "SD 1.x") {
		t.Errorf("inspect:\n%s", rep)
	}
	// Every recorded key is in the loaded model under its diffusers name.
	comps := map[string]*model.Component{
		model.CompUNet: m.UNetWeights.(*model.Component), model.CompVAE: m.VAEWeights.(*model.Component),
		model.CompText: m.TextEncoders[0].Weights.(*model.Component),
	}
	n := 0
	for _, tn := range ts {
		if !tn.IsParam() {
			continue
		}
		n++
		if c := comps[tn.Component]; c.Stored(tn.Key) != tn.Name {
			t.Errorf("%s/%s: stored as %q, generated as %q", tn.Component, tn.Key, c.Stored(tn.Key), tn.Name)
		}
	}
	if got := len(comps[model.CompUNet].Names()) + len(comps[model.CompVAE].Names()) + len(comps[model.CompText].Names()); got != n {
		t.Errorf("model has %d tensors, generated %d", got, n)
	}
}

// TestRunReport runs the benchmark on the diffusers fixture.
func TestRunReport(t *testing.T) {
	o := DefaultOptions()
	o.Width, o.Height, o.Steps, o.Threads, o.CeilingTime = 64, 64, 2, 2, 50*time.Millisecond
	var log []string
	o.Log = func(format string, args ...any) { log = append(log, format) }
	r, err := Run(context.Background(), diffusersDir, o)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, s := range r.Stages {
		names = append(names, s.Name)
		if s.Seconds <= 0 || (s.Name != "load" && (s.GFLOP <= 0 || s.GFLOPS <= 0)) {
			t.Errorf("stage %+v", s)
		}
	}
	if !slices.Equal(names, []string{"load", "text_encoder", "unet", "vae_decode"}) {
		t.Errorf("stages %v", names)
	}
	m, err := model.Load(diffusersDir, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if g := r.Stages[2].GFLOP; math.Abs(g-2*float64(UNetFLOPs(m.UNet, 2, 8, 8))/1e9) > 1e-9 {
		t.Errorf("unet GFLOP %g", g)
	}
	if r.Layout != model.Diffusers || r.DType != "F32" || r.ModelBytes <= 0 || !r.Finite || len(r.UNetCalls) != 2 ||
		r.LatentWidth != 8 || r.Batch != 2 || r.Threads != 2 || r.TotalSeconds <= 0 {
		t.Errorf("report %+v", r)
	}
	if len(log) != 6 { // 4 stages + 2 calls
		t.Errorf("log %q", log)
	}
	// The ceiling and the ratios of the steady call (the second) and the
	// decode to it.
	if r.CeilingGFLOPS <= 0 || r.Kernels == "" || r.UNetSteadyGFLOPS != r.UNetCalls[1].GFLOPS ||
		math.Abs(r.UNetCeilingRatio-r.UNetSteadyGFLOPS/r.CeilingGFLOPS) > 1e-12 || r.VAECeilingRatio <= 0 {
		t.Errorf("ceiling %+v", r)
	}
	// CPU time: every stage used some, and no more than all the machine's
	// CPUs for its wall time (with slack: the reading spans the sampler
	// step before a call, and the collector may use CPUs beyond the run's
	// threads).
	if runtime.GOOS != "windows" {
		for _, s := range r.Stages {
			if s.CPU <= 0 || s.CPU > 1.1*s.Seconds*float64(runtime.NumCPU())+0.05 {
				t.Errorf("stage %s: %g s CPU in %g s", s.Name, s.CPU, s.Seconds)
			}
		}
		var sum float64
		for _, c := range r.UNetCalls {
			sum += c.CPU
		}
		if u := r.Stages[2]; sum <= 0 || math.Abs(sum-u.CPU) > 1e-9 {
			t.Errorf("U-Net calls' CPU %g s, stage %g s", sum, u.CPU)
		}
	}
	tab := r.Table()
	for _, s := range []string{"text_encoder", "vae_decode", "GFLOPS", "latent 8x8", "U-Net call", "kernel ceiling", "busy"} {
		if !strings.Contains(tab, s) {
			t.Errorf("table lacks %q:\n%s", s, tab)
		}
	}
	t.Logf("\n%s", tab)

	// Cancelled before the first stage after loading.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, diffusersDir, o); err != context.Canceled {
		t.Errorf("cancelled run: %v", err)
	}
	o.Width = 65
	if _, err := Run(context.Background(), diffusersDir, o); err == nil {
		t.Error("width 65 accepted")
	}
}

// TestSDXLKeySet lists SDXL base's tensors (sd_xl_base_1.0.safetensors'
// names and shapes: OpenCLIP's fused in_proj and transposed projection,
// label_emb), writes the header over a sparse data section and checks that
// model.Load reads it as SDXL with exactly the Spec's configs.
func TestSDXLKeySet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds SDXL's networks over a recorder")
	}
	s := SDXL("f16", 0)
	ts := mustTensors(t, s)
	p := Params(ts)
	var total int64
	for _, n := range p {
		total += n
	}
	t.Logf("%d tensors, %d parameters: %v", len(ts), total, p)
	want := map[string]int64{model.CompUNet: 2_567_463_684, model.CompVAE: 83_653_863, model.CompText: 123_060_480, model.CompText2: 694_659_840}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("params %v, want %v", p, want)
	}
	shapes := map[string][]int{
		"model.diffusion_model.label_emb.0.0.weight":                                               {1280, 2816},
		"model.diffusion_model.input_blocks.7.1.transformer_blocks.9.attn2.to_k.weight":            {1280, 2048},
		"model.diffusion_model.middle_block.1.transformer_blocks.9.ff.net.2.weight":                {1280, 5120},
		"model.diffusion_model.output_blocks.2.2.conv.weight":                                      {1280, 1280, 3, 3},
		"model.diffusion_model.output_blocks.5.2.conv.weight":                                      {640, 640, 3, 3},
		"conditioner.embedders.0.transformer.text_model.embeddings.position_ids":                   {1, 77},
		"conditioner.embedders.0.transformer.text_model.encoder.layers.11.self_attn.q_proj.weight": {768, 768},
		"conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_weight":               {3840, 1280},
		"conditioner.embedders.1.model.transformer.resblocks.31.attn.in_proj_bias":                 {3840},
		"conditioner.embedders.1.model.text_projection":                                            {1280, 1280},
		"conditioner.embedders.1.model.positional_embedding":                                       {77, 1280},
		"conditioner.embedders.1.model.ln_final.weight":                                            {1280},
		"first_stage_model.decoder.mid.attn_1.q.weight":                                            {512, 512, 1, 1},
	}
	for _, tn := range ts {
		if sh, ok := shapes[tn.Name]; ok {
			if !slices.Equal(sh, tn.Shape) {
				t.Errorf("%s: %v, want %v", tn.Name, tn.Shape, sh)
			}
			delete(shapes, tn.Name)
		}
	}
	if len(shapes) != 0 {
		t.Errorf("missing %v", shapes)
	}
	path := filepath.Join(t.TempDir(), "sdxl-sparse.safetensors")
	if _, err := write(context.Background(), path, s, ts, false); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(path, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Family != model.SDXL || len(m.TextEncoders) != 2 || !m.ZerosForNoNegative {
		t.Fatalf("family %s, %d text encoders", m.Family.Name, len(m.TextEncoders))
	}
	if !reflect.DeepEqual(m.UNet, s.UNet) || !reflect.DeepEqual(m.VAE, s.VAE) ||
		!reflect.DeepEqual(m.TextEncoders[0].Config, s.Text) || !reflect.DeepEqual(m.TextEncoders[1].Config, *s.Text2) {
		t.Errorf("inferred configs\n%+v\n%+v\n%+v\n%+v", m.UNet, m.VAE, m.TextEncoders[0].Config, m.TextEncoders[1].Config)
	}
	rep, err := model.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unknown != 0 || !rep.Supported || rep.Kind != "base" {
		t.Errorf("inspect: %d unknown keys, supported %v, kind %q", rep.Unknown, rep.Supported, rep.Kind)
	}
}
