package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

const (
	testdata    = "../../testdata"
	fp16File    = testdata + "/model-fp16/sd1-tiny.fp16.safetensors"
	diffusersIn = testdata + "/model-diffusers"
)

func load(t *testing.T, path string) *Model {
	t.Helper()
	m, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// rawTensor is a tensor to write into a test file, data as stored.
type rawTensor struct {
	name, dtype string
	shape       []int
	data        []byte
}

// writeSafetensors writes a well-formed safetensors file.
func writeSafetensors(t *testing.T, path string, ts []rawTensor) {
	t.Helper()
	header := map[string]any{}
	var data []byte
	for _, r := range ts {
		header[r.name] = map[string]any{"dtype": r.dtype, "shape": r.shape, "data_offsets": []int{len(data), len(data) + len(r.data)}}
		data = append(data, r.data...)
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	buf := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	buf = append(append(buf, h...), data...)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fixtureTensors reads every tensor of a fixture file as stored.
func fixtureTensors(t *testing.T, path string) []rawTensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []rawTensor
	for _, n := range f.Names() {
		b, in, err := f.Raw(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rawTensor{n, in.DType, in.Shape, append([]byte(nil), b...)})
	}
	return out
}

func f32bytes(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func readJSON(t *testing.T, path string, dst any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, dst); err != nil {
		t.Fatal(err)
	}
}

// The configs the diffusers folder's config.json files give, decoded into
// zero values (not over SD15 defaults) so the comparison is independent.
func fixtureConfigs(t *testing.T) (unet.Config, vae.Config, textenc.Config) {
	var u unet.Config
	var v vae.Config
	var x textenc.Config
	readJSON(t, diffusersIn+"/unet/config.json", &u)
	readJSON(t, diffusersIn+"/vae/config.json", &v)
	readJSON(t, diffusersIn+"/text_encoder/config.json", &x)
	// Load keeps a projection only for CLIPTextModelWithProjection and
	// drops a depth of 1 everywhere: the form a single file's shapes give.
	x.Architectures, x.ProjectionDim, u.TransformerLayersPerBlock = nil, 0, nil
	return u, v, x
}

func TestLoadFixtures(t *testing.T) {
	wantU, wantV, wantT := fixtureConfigs(t)
	cases := []struct {
		path, layout, name string
		scheduler          bool
		// The single file cannot know the tiny model's default image size
		// (nothing in it or its yaml says 128 px), so it gets SD 1.x's 512.
		unetSample, vaeSample int
	}{
		{fp16File, SingleFile, "sd1-tiny.fp16", false, 64, 512},
		{diffusersIn, Diffusers, "model-diffusers", true, 16, 128},
	}
	for _, c := range cases {
		t.Run(c.layout, func(t *testing.T) {
			m := load(t, c.path)
			if m.Layout != c.layout || m.Family != SD1 || m.Name != c.name || m.TextEncoders[0].PadID != 49407 {
				t.Errorf("layout %q family %q name %q pad %d", m.Layout, m.Family.Name, m.Name, m.TextEncoders[0].PadID)
			}
			if (m.Scheduler != nil) != c.scheduler {
				t.Errorf("scheduler config present: %v", m.Scheduler != nil)
			}
			u, v := m.UNet, m.VAE
			if u.SampleSize != c.unetSample || v.SampleSize != c.vaeSample {
				t.Errorf("sample sizes %d, %d; want %d, %d", u.SampleSize, v.SampleSize, c.unetSample, c.vaeSample)
			}
			u.SampleSize, v.SampleSize = wantU.SampleSize, wantV.SampleSize
			if !reflect.DeepEqual(u, wantU) {
				t.Errorf("unet config\n got %+v\nwant %+v", u, wantU)
			}
			if !reflect.DeepEqual(v, wantV) {
				t.Errorf("vae config\n got %+v\nwant %+v", v, wantV)
			}
			if !reflect.DeepEqual(m.TextEncoders[0].Config, wantT) {
				t.Errorf("text config\n got %+v\nwant %+v", m.TextEncoders[0].Config, wantT)
			}
		})
	}
}

// TestSingleFileMatchesDiffusers proves the key mapping: every diffusers key
// of the folder is answered by the single-file source, from the LDM key the
// fixture's keymap names, with the same shape and bit-identical values (the
// fp16 file widened equals the float32 folder).
func TestSingleFileMatchesDiffusers(t *testing.T) {
	single, folder := load(t, fp16File), load(t, diffusersIn)
	var keymap []struct {
		LDM       string `json:"ldm"`
		LDMShape  []int  `json:"ldm_shape"`
		Component string `json:"component"`
		Diffusers string `json:"diffusers"`
	}
	readJSON(t, testdata+"/single_file_keymap.json", &keymap)
	if len(keymap) != 996 {
		t.Fatalf("keymap has %d entries", len(keymap))
	}
	pick := func(m *Model, comp string) *Component {
		switch comp {
		case "unet":
			return m.UNetWeights.(*Component)
		case "vae":
			return m.VAEWeights.(*Component)
		case "text_encoder":
			return m.TextEncoders[0].Weights.(*Component)
		}
		t.Fatalf("unknown component %q", comp)
		return nil
	}
	seen := map[string]bool{}
	for _, e := range keymap {
		s, d := pick(single, e.Component), pick(folder, e.Component)
		if got := s.Stored(e.Diffusers); got != e.LDM {
			t.Errorf("%s %s: mapped from %q, want %q", e.Component, e.Diffusers, got, e.LDM)
			continue
		}
		ss, ok1 := s.Shape(e.Diffusers)
		ds, ok2 := d.Shape(e.Diffusers)
		if !ok1 || !ok2 || !reflect.DeepEqual(ss, ds) {
			t.Errorf("%s: single-file shape %v, folder shape %v", e.Diffusers, ss, ds)
			continue
		}
		sv, err1 := s.Float32(e.Diffusers)
		dv, err2 := d.Float32(e.Diffusers)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v / %v", e.Diffusers, err1, err2)
		}
		for i := range dv {
			if math.Float32bits(sv[i]) != math.Float32bits(dv[i]) {
				t.Fatalf("%s[%d]: %g from the single file, %g from the folder", e.Diffusers, i, sv[i], dv[i])
			}
		}
		seen[e.Component+"/"+e.Diffusers] = true
	}
	// Both directions: no key of either layout is left over.
	for _, comp := range []string{"unet", "vae", "text_encoder"} {
		for _, m := range []*Model{single, folder} {
			for _, n := range pick(m, comp).Names() {
				if !seen[comp+"/"+n] {
					t.Errorf("%s %s key %q not in the keymap", m.Layout, comp, n)
				}
			}
		}
	}
}

// TestLoaderErrorsNameKeys: a tensor missing from, or mis-shaped in, a
// single file surfaces through weights.Loader with the diffusers key.
func TestLoaderErrorsNameKeys(t *testing.T) {
	const (
		dropped  = "model.diffusion_model.input_blocks.4.0.in_layers.0.weight" // down_blocks.1.resnets.0.norm1.weight
		reshaped = "first_stage_model.decoder.up.0.block.0.norm1.bias"         // decoder.up_blocks.3.resnets.0.norm1.bias
	)
	var ts []rawTensor
	for _, r := range fixtureTensors(t, fp16File) {
		switch r.name {
		case dropped:
			continue
		case reshaped:
			r.shape = []int{r.shape[0] / 2, 2}
		}
		ts = append(ts, r)
	}
	path := filepath.Join(t.TempDir(), "broken.safetensors")
	writeSafetensors(t, path, ts)
	m := load(t, path)

	l := weights.NewLoader(m.UNetWeights).Sub("down_blocks").Subf("%d", 1).Sub("resnets.0")
	l.Tensor("norm1.weight", 64)
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "down_blocks.1.resnets.0.norm1.weight") {
		t.Errorf("missing key: %v", err)
	}
	l = weights.NewLoader(m.VAEWeights)
	l.Tensor("decoder.up_blocks.3.resnets.0.norm1.bias", 32)
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), "decoder.up_blocks.3.resnets.0.norm1.bias") || !strings.Contains(err.Error(), "[16 2]") {
		t.Errorf("mis-shaped key: %v", err)
	}
	// A well-formed key still loads.
	l = weights.NewLoader(m.VAEWeights)
	if x := l.Tensor("decoder.mid_block.attentions.0.to_q.weight", 64, 64); l.Err() != nil || len(x.Data) != 64*64 {
		t.Errorf("to_q: %v", l.Err())
	}
}

// TestInferenceNeedsKeys: keys the config inference relies on are named
// when absent.
func TestInferenceNeedsKeys(t *testing.T) {
	for drop, want := range map[string]string{
		"model.diffusion_model.input_blocks.0.0.weight":                               "conv_in.weight",
		"model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight": "attn2.to_k.weight",
		"first_stage_model.post_quant_conv.weight":                                    "post_quant_conv.weight",
		"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight":   "token_embedding.weight",
	} {
		var ts []rawTensor
		for _, r := range fixtureTensors(t, fp16File) {
			if r.name != drop {
				ts = append(ts, r)
			}
		}
		path := filepath.Join(t.TempDir(), "m.safetensors")
		writeSafetensors(t, path, ts)
		if _, err := Load(path, Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("without %s: %v", drop, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fixture, err := os.ReadFile(fp16File)
	if err != nil {
		t.Fatal(err)
	}
	pickle := []byte("\x80\x02\x8a\x0alR\xfc\x9cF\xf9 j\xa8P\x19.")
	zip := []byte("PK\x03\x04\x00\x00\x08\x08\x00\x00archive/data.pkl")
	// A diffusers folder whose unet has only pickle weights.
	bin := filepath.Join(dir, "binfolder")
	write("binfolder/model_index.json", []byte(`{"_class_name":"StableDiffusionPipeline"}`))
	write("binfolder/unet/config.json", []byte(`{}`))
	write("binfolder/unet/diffusion_pytorch_model.bin", pickle)
	// A folder lacking vae/.
	novae := filepath.Join(dir, "novae")
	write("novae/model_index.json", []byte(`{}`))
	if err := os.Symlink(filepath.Join(mustAbs(t, diffusersIn), "unet"), filepath.Join(novae, "unet")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "plain"), 0o755); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name, path string
		want       []string
	}{
		{"nonexistent", filepath.Join(dir, "nope.safetensors"), []string{"does not exist"}},
		{"directory without model_index.json", filepath.Join(dir, "plain"), []string{"without model_index.json"}},
		{"empty file", write("empty.safetensors", nil), []string{"empty file"}},
		{"truncated file", write("trunc.safetensors", fixture[:len(fixture)/2]), []string{"trunc.safetensors", "truncated"}},
		{"header only", write("head.safetensors", fixture[:8]), []string{"truncated"}},
		{"garbage", write("junk.safetensors", []byte("hello, this is not a model at all")), []string{"not a safetensors file"}},
		{".ckpt", write("model.ckpt", pickle), []string{"pickle", "safetensors", "save_file"}},
		{".pt", write("model.pt", []byte("whatever")), []string{"pickle"}},
		{".pth", write("model.pth", []byte("whatever")), []string{"pickle"}},
		{".bin", write("pytorch_model.bin", []byte("whatever")), []string{"pickle"}},
		{"pickle magic", write("renamed.safetensors", pickle), []string{"pickle"}},
		{"zip magic", write("zipped.safetensors", zip), []string{"pickle"}},
		{"diffusers .bin weights", bin, []string{"pickle", "diffusion_pytorch_model.bin"}},
		{"diffusers folder without vae", novae, []string{"no vae/"}},
		{"diffusers component file", diffusersIn + "/unet/diffusion_pytorch_model.safetensors", []string{"model_index.json"}},
		{"not a checkpoint", testdata + "/dtypes.safetensors", []string{"not a Stable Diffusion checkpoint"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Load(c.path, Options{})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestRefusedArchitectures: incomplete SD 2.x and SDXL files and SDXL's
// refiner are recognised and refused by Load with a clear message, while
// Inspect still reports them.
func TestRefusedArchitectures(t *testing.T) {
	dir := t.TempDir()
	one := []rawTensor{{"model.diffusion_model.input_blocks.0.0.weight", "F32", []int{1}, f32bytes(1)}}
	sd2 := append(one, rawTensor{"cond_stage_model.model.token_embedding.weight", "F32", []int{1}, f32bytes(2)})
	xl := append(one, rawTensor{"conditioner.embedders.0.transformer.text_model.x", "F32", []int{1}, f32bytes(2)})
	writeSafetensors(t, filepath.Join(dir, "sd2.safetensors"), sd2)
	writeSafetensors(t, filepath.Join(dir, "xl.safetensors"), xl)
	refiner := append(one, rawTensor{"conditioner.embedders.0.model.token_embedding.weight", "F32", []int{1}, f32bytes(2)},
		rawTensor{"first_stage_model.decoder.conv_in.weight", "F32", []int{1}, f32bytes(2)})
	writeSafetensors(t, filepath.Join(dir, "refiner.safetensors"), refiner)

	// SD 1.x-looking keys with an SD 2.x sidecar yaml.
	yamlDir := filepath.Join(dir, "yaml")
	if err := os.Mkdir(yamlDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mustAbs(t, fp16File), filepath.Join(yamlDir, "m.safetensors")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(yamlDir, "m.yaml"), "model:\n  params:\n    parameterization: v\n    unet_config:\n      params:\n        num_head_channels: 64\n")

	for _, c := range []struct{ path, arch, want string }{
		{filepath.Join(dir, "sd2.safetensors"), SD2.Name, "no VAE"},
		{filepath.Join(dir, "xl.safetensors"), SDXL.Name, "no VAE"},
		{filepath.Join(dir, "refiner.safetensors"), SDXL.Name, "SDXL refiner"},
		{filepath.Join(yamlDir, "m.safetensors"), SD2.Name, "do not match"},
	} {
		if _, err := Load(c.path, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Load error %v, want %q", c.path, err, c.want)
		}
		r, err := Inspect(c.path)
		if err != nil || r.Arch != c.arch || r.Supported || !strings.Contains(r.Problem, c.want) {
			t.Errorf("%s: Inspect arch %q supported %v problem %q err %v", c.path, r.Arch, r.Supported, r.Problem, err)
		}
	}
}

// TestRealCheckpointExtras: the keys real SD 1.x files carry beyond the
// weights are skipped and counted, and the old transformers text layout
// (no "text_model." level) maps too.
func TestRealCheckpointExtras(t *testing.T) {
	var ts []rawTensor
	for _, r := range fixtureTensors(t, fp16File) {
		r.name = strings.Replace(r.name, "cond_stage_model.transformer.text_model.", "cond_stage_model.transformer.", 1)
		ts = append(ts, r)
	}
	ids := make([]byte, 77*8)
	ignored := []rawTensor{
		{"model_ema.diffusion_modelinput_blocks00weight", "F16", []int{1}, []byte{0, 0}},
		{"model_ema.decay", "F32", []int{}, f32bytes(0.9999)},
		{"betas", "F32", []int{2}, f32bytes(1, 2)},
		{"alphas_cumprod", "F32", []int{2}, f32bytes(1, 2)},
		{"posterior_mean_coef1", "F32", []int{2}, f32bytes(1, 2)},
		{"cond_stage_model.transformer.embeddings.position_ids", "I64", []int{1, 77}, ids},
		{"first_stage_model.loss.logvar", "F32", []int{}, f32bytes(0)},
		{"lpips.net.slice1.0.weight", "F32", []int{1}, f32bytes(0)},
	}
	unknown := []rawTensor{
		{"model.diffusion_model.no_such_block.0.weight", "F32", []int{1}, f32bytes(0)},
		{"something.else", "F32", []int{1}, f32bytes(0)},
		// The same text key in both transformers layouts: the second is refused.
		{"cond_stage_model.transformer.text_model.final_layer_norm.bias", "F32", []int{1}, f32bytes(0)},
	}
	ts = append(append(ts, ignored...), unknown...)
	path := filepath.Join(t.TempDir(), "real.safetensors")
	writeSafetensors(t, path, ts)

	m := load(t, path)
	_, _, wantT := fixtureConfigs(t)
	if !reflect.DeepEqual(m.TextEncoders[0].Config, wantT) {
		t.Errorf("text config %+v", m.TextEncoders[0].Config)
	}
	if _, ok := m.TextEncoders[0].Weights.Shape("text_model.encoder.layers.3.mlp.fc2.weight"); !ok {
		t.Error("old-layout text key not mapped")
	}
	r, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ignored != len(ignored) || r.Unknown != len(unknown) || !r.Supported {
		t.Errorf("ignored %d (want %d), unknown %d (want %d), problem %q", r.Ignored, len(ignored), r.Unknown, len(unknown), r.Problem)
	}
}

// TestOldDiffusersVAENames: pre-0.14 diffusers VAE attention names load
// under the current ones.
func TestOldDiffusersVAENames(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"model_index.json", "unet", "text_encoder", "tokenizer", "scheduler"} {
		if err := os.Symlink(filepath.Join(mustAbs(t, diffusersIn), n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "vae"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(mustAbs(t, diffusersIn+"/vae/config.json"), filepath.Join(dir, "vae", "config.json")); err != nil {
		t.Fatal(err)
	}
	var ts []rawTensor
	old := strings.NewReplacer(".to_q.", ".query.", ".to_k.", ".key.", ".to_v.", ".value.", ".to_out.0.", ".proj_attn.")
	for _, r := range fixtureTensors(t, diffusersIn+"/vae/diffusion_pytorch_model.safetensors") {
		r.name = old.Replace(r.name)
		ts = append(ts, r)
	}
	writeSafetensors(t, filepath.Join(dir, "vae", "diffusion_pytorch_model.fp16.safetensors"), ts)
	m, ref := load(t, dir), load(t, diffusersIn)
	for _, k := range []string{"encoder.mid_block.attentions.0.to_out.0.weight", "decoder.mid_block.attentions.0.to_q.bias"} {
		a, err1 := m.VAEWeights.Float32(k)
		b, err2 := ref.VAEWeights.Float32(k)
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("%s: %v %v", k, err1, err2)
		}
	}
}

func TestHash(t *testing.T) {
	for path, file := range map[string]string{
		fp16File:    fp16File,
		diffusersIn: diffusersIn + "/unet/diffusion_pytorch_model.safetensors",
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		m := load(t, path)
		for i := 0; i < 2; i++ { // the second call is the remembered value
			if h, err := m.Hash(); err != nil || h != hex.EncodeToString(sum[:])[:10] {
				t.Errorf("%s: hash %q %v", path, h, err)
			}
		}
	}
}

func TestClose(t *testing.T) {
	m, err := Load(fp16File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.UNetWeights.Float32("conv_in.bias")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := m.UNetWeights.Float32("conv_in.bias"); err == nil {
		t.Error("read after Close")
	}
	_ = v[0] // copies outlive the mapping
}

// fixtureWeightCount is the number of weights the fixture generator wrote
// (testdata/sd1-tiny-manifest.json, a copy of the sd1-tiny fixtures'
// manifest).
func fixtureWeightCount(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("../../testdata/sd1-tiny-manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Stats struct {
			Weights int64 `json:"weights"`
		} `json:"weights_fp16_stats"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Stats.Weights == 0 {
		t.Fatal("the manifest has no weights_fp16_stats.weights")
	}
	return m.Stats.Weights
}

func TestInspect(t *testing.T) {
	for _, c := range []struct {
		path, dtype string
		bytesPer    int64
	}{{fp16File, "F16", 2}, {diffusersIn, "F32", 4}} {
		r, err := Inspect(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Supported || r.Arch != SD1.Name || r.UNet == nil || r.VAE == nil || r.Text == nil || r.Ignored != 0 || r.Unknown != 0 {
			t.Errorf("%s: %+v", c.path, r)
		}
		want := map[string]int{"unet": 684, "vae": 244, "text_encoder": 68}
		var params int64
		for _, comp := range r.Components {
			if comp.Tensors != want[comp.Name] || comp.DTypes[c.dtype] != comp.Tensors || comp.Bytes != comp.Params*c.bytesPer {
				t.Errorf("%s %s: %+v", c.path, comp.Name, comp)
			}
			params += comp.Params
		}
		if want := fixtureWeightCount(t); params != want {
			t.Errorf("%s: %d parameters, the fixture generator counted %d", c.path, params, want)
		}
		js, err := r.JSON()
		if err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(js, &back); err != nil || back.Arch != SD1.Name || back.UNet.CrossAttentionDim != 32 {
			t.Errorf("JSON round trip: %v %+v", err, back)
		}
		s := r.String()
		for _, w := range []string{"SD 1.x", r.Layout, "684 tensors", "6.26M parameters", "4 heads"} {
			if !strings.Contains(s, w) {
				t.Errorf("String() lacks %q:\n%s", w, s)
			}
		}
	}
	if _, err := Inspect(filepath.Join(t.TempDir(), "x.ckpt")); err == nil {
		t.Error("Inspect of a missing .ckpt succeeded")
	}
}

// TestSD15Shapes runs the key mapping and config inference over the key set
// of a real SD 1.5 checkpoint (the fixture's names, 12 text layers) with
// SD 1.5's shapes for every tensor the inference reads: they must give
// exactly the SD15() configs.
func TestSD15Shapes(t *testing.T) {
	f, err := safetensors.Open(fp16File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	shapes := map[string][]int{
		"model.diffusion_model.input_blocks.0.0.weight":                                     {320, 4, 3, 3},
		"model.diffusion_model.out.2.weight":                                                {4, 320, 3, 3},
		"model.diffusion_model.input_blocks.1.0.in_layers.2.weight":                         {320, 320, 3, 3},
		"model.diffusion_model.input_blocks.4.0.in_layers.2.weight":                         {640, 320, 3, 3},
		"model.diffusion_model.input_blocks.7.0.in_layers.2.weight":                         {1280, 640, 3, 3},
		"model.diffusion_model.input_blocks.10.0.in_layers.2.weight":                        {1280, 1280, 3, 3},
		"model.diffusion_model.middle_block.1.transformer_blocks.0.attn2.to_k.weight":       {1280, 768},
		"model.diffusion_model.middle_block.1.proj_in.weight":                               {1280, 1280, 1, 1},
		"first_stage_model.encoder.conv_in.weight":                                          {128, 3, 3, 3},
		"first_stage_model.decoder.conv_out.weight":                                         {3, 128, 3, 3},
		"first_stage_model.post_quant_conv.weight":                                          {4, 4, 1, 1},
		"first_stage_model.encoder.down.0.block.0.conv1.weight":                             {128, 128, 3, 3},
		"first_stage_model.encoder.down.1.block.0.conv1.weight":                             {256, 128, 3, 3},
		"first_stage_model.encoder.down.2.block.0.conv1.weight":                             {512, 256, 3, 3},
		"first_stage_model.encoder.down.3.block.0.conv1.weight":                             {512, 512, 3, 3},
		"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight":         {49408, 768},
		"cond_stage_model.transformer.text_model.embeddings.position_embedding.weight":      {77, 768},
		"cond_stage_model.transformer.text_model.encoder.layers.0.mlp.fc1.weight":           {3072, 768},
		"first_stage_model.decoder.mid.attn_1.q.weight":                                     {512, 512, 1, 1},
		"cond_stage_model.transformer.text_model.encoder.layers.11.self_attn.q_proj.weight": {768, 768},
	}
	var ts []storedTensor
	for _, n := range f.Names() {
		in, ok := f.Info(n)
		if !ok {
			t.Fatalf("%s listed but not found", n)
		}
		ts = append(ts, storedTensor{nil, in})
		// Text layers 4..11 beside the fixture's 0..3.
		if rest, ok := strings.CutPrefix(n, "cond_stage_model.transformer.text_model.encoder.layers.3."); ok {
			for i := 4; i < 12; i++ {
				in.Name = "cond_stage_model.transformer.text_model.encoder.layers." + strconv.Itoa(i) + "." + rest
				ts = append(ts, storedTensor{nil, in})
			}
		}
	}
	for i := range ts {
		if s, ok := shapes[ts[i].info.Name]; ok {
			ts[i].info.Shape = s
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].info.Name < ts[j].info.Name })
	o := &opened{padID: sd1PadID}
	mapSingleFile(o, ts, nil)
	if o.problem != "" || o.cfgErr != nil || len(o.unknown) != 0 {
		t.Fatalf("problem %q, err %v, unknown %v", o.problem, o.cfgErr, o.unknown)
	}
	if !reflect.DeepEqual(o.unet, unet.SD15()) {
		t.Errorf("unet\n got %+v\nwant %+v", o.unet, unet.SD15())
	}
	if !reflect.DeepEqual(o.vae, vae.SD15()) {
		t.Errorf("vae\n got %+v\nwant %+v", o.vae, vae.SD15())
	}
	if !reflect.DeepEqual(o.text, textenc.SD15()) {
		t.Errorf("text\n got %+v\nwant %+v", o.text, textenc.SD15())
	}
	if s, ok := o.comps[compVAE].Shape("decoder.mid_block.attentions.0.to_q.weight"); !ok || !reflect.DeepEqual(s, []int{512, 512}) {
		t.Errorf("VAE attention reshape: %v (found %v)", s, ok)
	}
	if n := len(o.comps[compText].Names()); n != 196 { // 16 per layer + 4
		t.Errorf("%d text tensors", n)
	}
}
