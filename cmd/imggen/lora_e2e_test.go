package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/pngout"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/safetensors/sttest"
)

// runCounting runs the real command in-process and counts model loads.
func runCounting(t *testing.T, env map[string]string, args ...string) (code, loads int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb)
	a.getenv = func(k string) string { return env[k] }
	a.load = func(path string, mo model.Options, po pipeline.Options) (*loaded, error) {
		loads++
		return loadPipeline(path, mo, po)
	}
	code = a.run(context.Background(), args)
	return code, loads, out.String(), errb.String()
}

// loraRun is the sd1-tiny-lora reference runs' settings.
func loraRun(out string, extra ...string) []string {
	return append([]string{"-m", fixtureAbs("model-diffusers"), "-n", "", "--sampler", "euler_a", "--steps", "15",
		"--cfg-scale", "7.5", "--seed", "1234", "-W", "128", "-H", "128", "-o", out, "--quiet"}, extra...)
}

func fixtureAbs(rel string) string {
	p, _ := filepath.Abs(filepath.Join("..", "..", "testdata", rel))
	return p
}

// addnetHash is AUTOMATIC1111's LoRA short hash, computed here on its own:
// SHA-256 of the safetensors data after the header, 12 hex digits.
func addnetHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b[8+binary.LittleEndian.Uint64(b):])
	return hex.EncodeToString(sum[:])[:12]
}

// TestLoRAReferenceImages: the sd1-tiny-lora runs through the command,
// with --lora FILE[:SCALE], with a <lora:NAME:SCALE> tag found in
// --lora-dir or $IMGGEN_LORA_DIR, and with a tag that sets the strength of a
// --lora file; the PNG records the tags and the LoRA's hash.
func TestLoRAReferenceImages(t *testing.T) {
	file := fixture(t, "lora/sd1-tiny-lora.safetensors")
	dir := filepath.Dir(file)
	hash := addnetHash(t, file)
	for _, tc := range []struct {
		name, prompt string
		extra        []string
		env          map[string]string
		ref          string
		recorded     string // the prompt line of the PNG
	}{
		{"flag", "sunset, oil painting", []string{"--lora", file}, nil, "e2e_lora_s1.0_eulera15_cfg7.5",
			"sunset, oil painting <lora:sd1-tiny-lora:1>"},
		{"flag_scale", "sunset, oil painting", []string{"--lora", file + ":0.6"}, nil, "e2e_lora_s0.6_eulera15_cfg7.5",
			"sunset, oil painting <lora:sd1-tiny-lora:0.6>"},
		{"flag_vs_fused", "sunset, oil painting", []string{"--lora", file + ":0.6"}, nil, "e2e_lora_fused0.6_eulera15_cfg7.5",
			"sunset, oil painting <lora:sd1-tiny-lora:0.6>"},
		{"tag_dir", "sunset, oil painting <lora:sd1-tiny-lora:0.6>", []string{"--lora-dir", dir}, nil, "e2e_lora_s0.6_eulera15_cfg7.5",
			"sunset, oil painting <lora:sd1-tiny-lora:0.6>"},
		{"tag_env", "<lora:sd1-tiny-lora>sunset, oil painting", nil, map[string]string{envLoRADir: dir}, "e2e_lora_s1.0_eulera15_cfg7.5",
			"<lora:sd1-tiny-lora>sunset, oil painting"},
		{"tag_sets_flag_strength", "sunset, oil painting <lora:sd1-tiny-lora:0.6>", []string{"--lora", file}, nil, "e2e_lora_s0.6_eulera15_cfg7.5",
			"sunset, oil painting <lora:sd1-tiny-lora:0.6>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, tc.name == "flag")
			out := filepath.Join(t.TempDir(), "out.png")
			code, _, _, stderr := runCounting(t, tc.env, append(loraRun(out, tc.extra...), "--", tc.prompt)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			assertMatchesReference(t, out, fixture(t, "lora/"+tc.ref+".png"), sd1Share)
			params, err := pngout.ReadParameters(out)
			if err != nil {
				t.Fatal(err)
			}
			if first, _, _ := strings.Cut(params, "\n"); first != tc.recorded {
				t.Errorf("recorded prompt %q, want %q", first, tc.recorded)
			}
			if want := `Lora hashes: "sd1-tiny-lora: ` + hash + `"`; !strings.Contains(params, want) {
				t.Errorf("parameters lack %s:\n%s", want, params)
			}
		})
	}
}

// TestLoRABatchLoadsOnce: a prompt file whose lines use different LoRAs
// (and none) loads the model once and gives each line the image it gives
// alone (the reference runs'); the JSON lines name each image's LoRAs.
func TestLoRABatchLoadsOnce(t *testing.T) {
	file := fixture(t, "lora/sd1-tiny-lora.safetensors")
	dir := t.TempDir()
	prompts := filepath.Join(dir, "prompts.txt")
	lines := []struct{ prompt, ref string }{
		{"sunset, oil painting <lora:sd1-tiny-lora:0.6>", "e2e_lora_s0.6_eulera15_cfg7.5"},
		{"sunset, oil painting", "e2e_base_eulera15_cfg7.5"},
		{"sunset, oil painting <lora:sd1-tiny-lora>", "e2e_lora_s1.0_eulera15_cfg7.5"},
		{"sunset, oil painting <lora:sd1-tiny-lora:0.6>", "e2e_lora_s0.6_eulera15_cfg7.5"},
	}
	var text strings.Builder
	for _, l := range lines {
		text.WriteString(l.prompt + "\n")
	}
	if err := os.WriteFile(prompts, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "%d.png")
	code, loads, stdout, stderr := runCounting(t, nil, loraRun(out, "--prompts", prompts, "--lora-dir", filepath.Dir(file), "--json")...)
	if code != exitOK || loads != 1 {
		t.Fatalf("exit %d after %d model loads: %s", code, loads, stderr)
	}
	recs := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(recs) != len(lines) {
		t.Fatalf("%d JSON lines, want %d", len(recs), len(lines))
	}
	for i, l := range lines {
		assertMatchesReference(t, filepath.Join(dir, []string{"1", "2", "3", "4"}[i]+".png"), fixture(t, "lora/"+l.ref+".png"), sd1Share)
		var rec imageRecord
		if err := json.Unmarshal([]byte(recs[i]), &rec); err != nil {
			t.Fatal(err)
		}
		if want := strings.Contains(l.prompt, "<lora:"); (len(rec.LoRAs) == 1) != want || (want && rec.LoRAs[0].Hash != addnetHash(t, file)) {
			t.Errorf("line %d: JSON LoRAs %+v", i+1, rec.LoRAs)
		}
	}
}

// TestLoRAErrors: a LoRA that cannot be used stops the run with a clear
// message and writes no image: before the model loads when the file or
// tag is wrong, at the image when the LoRA is another family's.
func TestLoRAErrors(t *testing.T) {
	good := fixture(t, "lora/sd1-tiny-lora.safetensors")
	dir := t.TempDir()
	pickle := filepath.Join(dir, "evil.ckpt")
	if err := os.WriteFile(pickle, []byte("\x80\x02c__builtin__\neval\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const mod = "lora_unet_down_blocks_0_attentions_0_proj_in"
	wrongShape := writeF32File(t, dir, "wrong-shape.safetensors", map[string][]int{mod + ".lora_down.weight": {2, 5}, mod + ".lora_up.weight": {32, 2}}, 0.1)
	nan := writeF32File(t, dir, "nan.safetensors", map[string][]int{mod + ".lora_down.weight": {2, 32}, mod + ".lora_up.weight": {32, 2}}, float32(math.NaN()))
	loha := writeF32File(t, dir, "loha.safetensors", map[string][]int{mod + ".hada_w1_a": {32, 2}, mod + ".hada_w1_b": {2, 32}}, 0.1)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		loaded bool
		want   string
	}{
		{"missing file", []string{"--lora", filepath.Join(dir, "nope.safetensors"), "--", "a"}, exitUsage, false, "nope.safetensors"},
		{"pickle", []string{"--lora", pickle, "--", "a"}, exitFailure, false, "pickle"},
		{"tag without dir", []string{"--", "a <lora:sd1-tiny-lora>"}, exitUsage, false, "--lora-dir"},
		{"tag not in dir", []string{"--lora-dir", dir, "--", "a <lora:other:0.5>"}, exitUsage, false, "other.safetensors"},
		{"tag leaving dir", []string{"--lora-dir", dir, "--", "a <lora:../x>"}, exitUsage, false, "inside --lora-dir"},
		{"bad tag strength", []string{"--lora-dir", dir, "--", "a <lora:x:strong>"}, exitUsage, false, "strength"},
		{"bad flag strength", []string{"--lora", good + ":99", "--", "a"}, exitUsage, false, "strength"},
		{"another family", []string{"--lora", fixture(t, "sdxl-lora/sdxl-tiny-lora.safetensors"), "--", "a"}, exitFailure, true, "a LoRA for SDXL"},
		{"wrong shape", []string{"--lora", wrongShape, "--", "a"}, exitFailure, true, "do not fit a layer of 32 -> 32"},
		{"nan", []string{"--lora", nan, "--", "a"}, exitFailure, false, "non-finite"},
		{"loha", []string{"--lora", loha, "--", "a"}, exitFailure, false, "LoHa"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{"-m", fixtureAbs("model-fp16/sd1-tiny.fp16.safetensors"), "-W", "64", "-H", "64", "--steps", "1", "-o", out, "-q"}, tc.args...)
			code, loads, _, stderr := runCounting(t, nil, args...)
			if code != tc.code || (loads > 0) != tc.loaded || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "panic") {
				t.Errorf("exit %d after %d loads, want %d: %s", code, loads, tc.code, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an image was written")
			}
		})
	}
}

// TestLCMReferenceImages: the LCM runs (testdata/lcm) through the command,
// the LCM-LoRA one with a <lora:...> tag.
func TestLCMReferenceImages(t *testing.T) {
	common := []string{"-m", fixtureAbs("model-diffusers"), "--sampler", "lcm", "-W", "128", "--quiet"}
	for _, tc := range []struct {
		ref  string
		args []string
	}{
		{"e2e_lcm4_cfg1", []string{"--steps", "4", "--cfg-scale", "1", "--seed", "11", "-H", "128", "sunset, oil painting"}},
		{"e2e_lcm8_cfg1.5_w128h96", []string{"--steps", "8", "--cfg-scale", "1.5", "--seed", "12", "-H", "96", "-n", "blurry", "sunset, oil painting"}},
		{"e2e_lcmlora_lcm4_cfg1", []string{"--steps", "4", "--cfg-scale", "1", "--seed", "11", "-H", "128",
			"--lora-dir", fixtureAbs("lora"), "sunset, oil painting<lora:sd1-tiny-lora:1.0>"}},
		{"e2e_img2img_lcm6_s0.5_cfg1", []string{"--steps", "6", "--cfg-scale", "1", "--seed", "13", "-H", "128",
			"-i", fixtureAbs("e2e/img2img_init.png"), "--strength", "0.5", "a watercolor landscape with a red sun over hills"}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			refcheck.SkipOnPortable(t, false)
			out := filepath.Join(t.TempDir(), "out.png")
			code, _, _, stderr := runCounting(t, nil, append(append(common, "-o", out), tc.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			assertMatchesReference(t, out, fixture(t, "lcm/"+tc.ref+".png"), sd1Share)
		})
	}
}

// TestSDXLLoRAReferenceImages: the kohya SDXL LoRA (SGM block names, both
// text encoders) through the command from both layouts, with --lora and
// with a tag at 0.7.
func TestSDXLLoRAReferenceImages(t *testing.T) {
	file := fixture(t, "sdxl-lora/sdxl-tiny-lora.safetensors")
	for _, tc := range []struct {
		model, ref string
		args       []string
	}{
		{"sdxl/model", "e2e_lora_s1.0_euler10_cfg5", []string{"--lora", file, sdxlFox}},
		{"sdxl/sdxl-tiny.fp16.safetensors", "e2e_lora_s1.0_euler10_cfg5", []string{"--lora", file, sdxlFox}},
		{"sdxl/model", "e2e_lora_s0.7_euler10_cfg5", []string{"--lora-dir", filepath.Dir(file), sdxlFox + " <lora:sdxl-tiny-lora:0.7>"}},
		{"sdxl/model", "e2e_lora_fused0.7_euler10_cfg5", []string{"--lora", file + ":0.7", sdxlFox}},
		{"sdxl/sdxl-tiny.fp16.safetensors", "e2e_base_euler10_cfg5", []string{sdxlFox}},
	} {
		t.Run(tc.ref+"/"+filepath.Base(tc.model), func(t *testing.T) {
			refcheck.SkipOnPortable(t, false)
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{"-m", fixtureAbs(tc.model), "--sampler", "euler", "--steps", "10", "--cfg-scale", "5",
				"--seed", "1234", "-W", "128", "-H", "128", "-o", out, "--quiet"}, tc.args...)
			code, _, _, stderr := runCounting(t, nil, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			assertMatchesReference(t, out, fixture(t, "sdxl-lora/"+tc.ref+".png"), sd1Share)
		})
	}
}

// fileHash is AUTOMATIC1111's embedding short hash, computed here on its
// own: the file's SHA-256, 12 hex digits.
func fileHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// TestEmbeddingReferenceImages: the textual-inversion runs through the
// command with --embedding TOKEN=FILE, and with --embeddings-dir (the word
// is the file's base name); the PNG records "TI hashes"; a LoRA tag and an
// embedding in one prompt.
func TestEmbeddingReferenceImages(t *testing.T) {
	emb := fixture(t, "lora/tiny-emb.safetensors")
	dir := t.TempDir()
	data, err := os.ReadFile(emb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny-emb.safetensors"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, prompt, ref, ti string
		extra                 []string
	}{
		{"token=file", "a <tiny-emb> sunset, oil painting", "e2e_ti_eulera15_cfg7.5", "<tiny-emb>", []string{"--embedding", "<tiny-emb>=" + emb}},
		{"dir", "a tiny-emb sunset, oil painting", "e2e_ti_eulera15_cfg7.5", "tiny-emb", []string{"--embeddings-dir", dir}},
		{"lora+ti", "a <tiny-emb> sunset, oil painting<lora:sd1-tiny-lora>", "e2e_lora_s1.0_ti_dpmpp2mkarras12_cfg6", "<tiny-emb>",
			[]string{"--embedding", "<tiny-emb>=" + emb, "--lora-dir", fixtureAbs("lora"), "--sampler", "dpmpp_2m", "--schedule", "karras",
				"--steps", "12", "--cfg-scale", "6", "--seed", "77", "-n", "blurry"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, false)
			out := filepath.Join(t.TempDir(), "out.png")
			code, _, _, stderr := runCounting(t, nil, append(loraRun(out, tc.extra...), "--", tc.prompt)...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			assertMatchesReference(t, out, fixture(t, "lora/"+tc.ref+".png"), sd1Share)
			params, err := pngout.ReadParameters(out)
			if err != nil {
				t.Fatal(err)
			}
			if want := `TI hashes: "` + tc.ti + `: ` + fileHash(t, emb) + `"`; !strings.Contains(params, want) {
				t.Errorf("parameters lack %s:\n%s", want, params)
			}
		})
	}
}

// TestSDXLEmbeddingReferenceImage: the SDXL embedding (clip_l + clip_g)
// through the command, pooled at the end of text (eot_pooling.json).
func TestSDXLEmbeddingReferenceImage(t *testing.T) {
	refcheck.SkipOnPortable(t, false)
	out := filepath.Join(t.TempDir(), "out.png")
	code, _, _, stderr := runCounting(t, nil, "-m", fixtureAbs("sdxl/model"), "--sampler", "euler", "--steps", "10", "--cfg-scale", "5",
		"--seed", "1234", "-W", "128", "-H", "128", "-o", out, "-q", "--embedding", "<tiny-xl>="+fixtureAbs("sdxl-lora/sdxl-tiny-emb.safetensors"),
		"a <tiny-xl> fox sitting in a snowy forest, morning light")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	assertMatchesReference(t, out, fixture(t, "sdxl-lora/e2e_ti_euler10_cfg5.eot.png"), sd1Share)

	out = filepath.Join(t.TempDir(), "out.png")
	code, _, _, stderr = runCounting(t, nil, "-m", fixtureAbs("sdxl/sdxl-tiny.fp16.safetensors"), "--sampler", "dpmpp_2m", "--schedule", "karras",
		"--steps", "10", "--cfg-scale", "6", "--seed", "77", "-W", "128", "-H", "96", "-o", out, "-q", "-n", "blurry, low quality",
		"--embedding", "<tiny-xl>="+fixtureAbs("sdxl-lora/sdxl-tiny-emb.safetensors"), "--lora-dir", fixtureAbs("sdxl-lora"),
		"a <tiny-xl> fox sitting in a snowy forest, morning light<lora:sdxl-tiny-lora>")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	assertMatchesReference(t, out, fixture(t, "sdxl-lora/e2e_lora_s1.0_ti_dpmpp2mkarras10_cfg6_w128h96.eot.png"), sd1Share)
}

// TestEmbeddingErrors: an embedding that does not fit the model, or is no
// embedding, stops the run with a message naming both, and no image.
func TestEmbeddingErrors(t *testing.T) {
	dir := t.TempDir()
	pickle := filepath.Join(dir, "evil.pt")
	os.WriteFile(pickle, []byte("\x80\x02c__builtin__\neval\n"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"sdxl embedding on sd1", []string{"--embedding", fixtureAbs("sdxl-lora/sdxl-tiny-emb.safetensors")}, exitFailure,
			"SDXL embedding (clip_l 8 wide, clip_g 12 wide); the model has a text encoder 32 wide"},
		{"a LoRA as embedding", []string{"--embedding", fixtureAbs("lora/sd1-tiny-lora.safetensors")}, exitFailure, "an embedding has one"},
		{"pickle", []string{"--embedding", pickle}, exitFailure, "pickle"},
		{"missing", []string{"--embedding", filepath.Join(dir, "none.safetensors")}, exitUsage, "none.safetensors"},
		{"twice", []string{"--embedding", fixtureAbs("lora/tiny-emb.safetensors"), "--embedding", fixtureAbs("lora/tiny-emb.safetensors")}, exitUsage, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{"-m", fixtureAbs("model-fp16/sd1-tiny.fp16.safetensors"), "-W", "64", "-H", "64", "--steps", "1", "-o", out, "-q"}, tc.args...)
			code, _, _, stderr := runCounting(t, nil, append(args, "a tiny-emb")...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "panic") {
				t.Errorf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("an image was written")
			}
		})
	}
}

// TestTokenizeEmbedding: tokenize shows an embedding's vectors as tokens
// with their ids.
func TestTokenizeEmbedding(t *testing.T) {
	code, _, stdout, stderr := runCounting(t, nil, "tokenize", "--json", "--embedding", "<tiny-emb>="+fixtureAbs("lora/tiny-emb.safetensors"), "a <tiny-emb> sunset")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rec tokenizeRecord
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range rec.Tokens {
		got = append(got, tk.Token)
	}
	if strings.Join(got, " ") != "a</w> <tiny-emb> <tiny-emb>_1 sunset</w>" || rec.Count != 4 || *rec.Tokens[1].ID != 49408 || *rec.Tokens[2].ID != 49409 {
		t.Errorf("tokens %q, count %d: %s", got, rec.Count, stdout)
	}
}

// TestInspectAddons: inspect describes a LoRA (format, rank, alpha, the
// modules per network, the family) and an embedding, and with -m says
// whether it fits (exit 1 when not).
func TestInspectAddons(t *testing.T) {
	sd1 := fixtureAbs("model-fp16/sd1-tiny.fp16.safetensors")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"sd1 lora", []string{fixtureAbs("lora/sd1-tiny-lora.safetensors")}, exitOK,
			[]string{"LoRA (kohya format)", "modules:     301: text_encoder 24, unet 277", "conv3x3", "rank:        4", "alpha:       2"}},
		{"sd1 lora fits", []string{fixtureAbs("lora/sd1-tiny-lora.safetensors"), "-m", sd1}, exitOK, []string{"fits", "yes (301 layers)"}},
		{"sdxl lora", []string{fixtureAbs("sdxl-lora/sdxl-tiny-lora.safetensors")}, exitOK,
			[]string{"trained for: SDXL (metadata: sdxl_base_v1-0)", "text_encoder_2 18"}},
		{"sdxl lora on sd1", []string{fixtureAbs("sdxl-lora/sdxl-tiny-lora.safetensors"), "-m", sd1}, exitFailure, []string{"fits", "no: ", "a LoRA for SDXL"}},
		{"embedding", []string{fixtureAbs("lora/tiny-emb.safetensors"), "-m", sd1}, exitOK, []string{"textual-inversion embedding", "vectors:     2", "width:       32", "yes"}},
		{"sdxl embedding on sd1", []string{fixtureAbs("sdxl-lora/sdxl-tiny-emb.safetensors"), "-m", sd1}, exitFailure, []string{"SDXL (clip_l + clip_g)", "no: "}},
		{"-m with a model", []string{sd1, "-m", sd1}, exitUsage, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stdout, stderr := runCounting(t, nil, append([]string{"inspect"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s%s", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// TestReproduceLoRA: a picture made with --lora FILE:0.6 records the tag
// and the hash; reproduce with the file given again makes the same bytes
// (the recorded tag sets the strength), and without it says what to give.
func TestReproduceLoRA(t *testing.T) {
	file := fixture(t, "lora/sd1-tiny-lora.safetensors")
	dir := t.TempDir()
	first, again := filepath.Join(dir, "a.png"), filepath.Join(dir, "b.png")
	common := []string{"-m", fixtureAbs("model-diffusers"), "-W", "64", "-H", "64", "--steps", "3", "-q"}
	if code, _, _, stderr := runCounting(t, nil, append(common, "--seed", "5", "--lora", file+":0.6", "-o", first, "sunset, oil painting")...); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, _, _, stderr := runCounting(t, nil, append([]string{"reproduce", first, "--lora", file, "-o", again}, common...)...); code != exitOK {
		t.Fatalf("reproduce: exit %d: %s", code, stderr)
	}
	a, _ := os.ReadFile(first)
	b, _ := os.ReadFile(again)
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("reproduce made different bytes")
	}
	code, _, _, stderr := runCounting(t, nil, append([]string{"reproduce", first, "-o", filepath.Join(dir, "c.png")}, common...)...)
	if code != exitUsage || !strings.Contains(stderr, "--lora-dir") {
		t.Errorf("reproduce without the LoRA: exit %d: %s", code, stderr)
	}
}

// writeF32File writes F32 tensors (name -> shape, every value v) as a
// safetensors file in dir.
func writeF32File(t *testing.T, dir, name string, shapes map[string][]int, v float32) string {
	t.Helper()
	ts := map[string]sttest.Tensor{}
	for k, shape := range shapes {
		ts[k] = sttest.Filled(v, shape...)
	}
	path := filepath.Join(dir, name)
	sttest.WriteF32(t, path, ts)
	return path
}
