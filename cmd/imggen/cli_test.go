package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/pngout"
	"github.com/imggen/imggen/internal/textenc"
)

// fakeGen stands in for the pipeline: instant images, failures and
// interrupts on demand, driven by words in the prompt.
type fakeGen struct {
	mu     sync.Mutex
	reqs   []pipeline.Request
	cancel context.CancelFunc
}

func (f *fakeGen) Defaults() pipeline.ModelDefaults {
	return pipeline.ModelDefaults{Width: 64, Height: 48}
}

func (f *fakeGen) Generate(ctx context.Context, req pipeline.Request, progress func(step, total int)) (*image.RGBA, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if strings.Contains(req.Prompt, "FAIL") {
		return nil, errors.New("fake generation failure")
	}
	for i := 1; i <= req.Steps; i++ {
		if strings.Contains(req.Prompt, "CANCEL") && i == 2 {
			f.cancel() // as if Ctrl-C arrived during step 2
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if progress != nil {
			progress(i, req.Steps)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, req.Width, req.Height))
	for i := range img.Pix {
		img.Pix[i] = uint8(req.Seed) + uint8(i)
		if i%4 == 3 {
			img.Pix[i] = 0xff
		}
	}
	return img, nil
}

// result is what one in-process run produced.
type result struct {
	code           int
	stdout, stderr string
	loads          int
	loadOpts       pipeline.Options // what the last load was asked for
	modelOpts      model.Options
	gen            *fakeGen
	dir            string // the run's working directory
}

type runOpts struct {
	stdin    string
	env      map[string]string
	loadErr  error
	progress bool
}

const fakeHash = "0123456789"

// runFake runs the CLI in a fresh temporary working directory with the
// fake pipeline. IMGGEN_MODEL is only what opts.env says.
func runFake(t *testing.T, opts runOpts, args ...string) result {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	r := result{gen: &fakeGen{cancel: cancel}, dir: dir}
	a := &app{
		stdin: strings.NewReader(opts.stdin), stdout: &stdout, stderr: &stderr,
		getenv:   func(k string) string { return opts.env[k] },
		progress: opts.progress,
		load: func(path string, mo model.Options, o pipeline.Options) (*loaded, error) {
			r.loads++
			r.loadOpts, r.modelOpts = o, mo
			if opts.loadErr != nil {
				return nil, opts.loadErr
			}
			return &loaded{
				generator: r.gen, name: "fake-model",
				hash:  func() (string, error) { return fakeHash, nil },
				close: func() error { return nil },
			}, nil
		},
	}
	r.code = a.run(ctx, args)
	r.stdout, r.stderr = stdout.String(), stderr.String()
	return r
}

var withModel = runOpts{env: map[string]string{envModel: "model.safetensors"}}

// files lists the regular files under dir, relative, sorted.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		files map[string]string // written before the run
		args  []string
		want  string // in stderr
	}{
		{"no prompt", "", nil, []string{}, "no prompt"},
		{"two prompts", "", nil, []string{"a", "b"}, "quote the prompt"},
		{"prompt and --prompts", "", map[string]string{"p.txt": "x\n"}, []string{"a", "--prompts", "p.txt"}, "not both"},
		{"width not multiple of 8", "", nil, []string{"a", "-W", "500"}, "-W/--width must be a positive multiple of 8, got 500"},
		{"height zero", "", nil, []string{"a", "-H", "0"}, "-H/--height must be a positive multiple of 8, got 0"},
		{"vae missing", "", nil, []string{"a", "--vae", "none.safetensors"}, "--vae none.safetensors: not a file"},
		{"too wide", "", nil, []string{"a", "-W", "8192", "-H", "64"}, "at most 4096, got 8192x64"},
		{"steps zero", "", nil, []string{"a", "--steps", "0"}, "steps must be"},
		{"unknown sampler", "", nil, []string{"a", "--sampler", "nope"}, `unknown sampler "nope"`},
		{"unknown long-prompt mode", "", nil, []string{"a", "--long-prompts", "wrap"}, `unknown long-prompt mode "wrap"`},
		{"unknown timestep spacing", "", nil, []string{"a", "--timestep-spacing", "middle"}, `unknown timestep spacing "middle"`},
		{"unknown prediction", "", nil, []string{"a", "--prediction", "x0"}, `unknown prediction type "x0"`},
		{"unknown schedule", "", nil, []string{"a", "--schedule", "linear"}, `unknown schedule "linear"`},
		{"negative cfg", "", nil, []string{"a", "--cfg-scale", "-1"}, "cfg scale"},
		{"eta too big", "", nil, []string{"a", "--sampler", "ddim", "--eta", "2"}, "eta must be"},
		{"eta without ddim", "", nil, []string{"a", "--eta", "0.5"}, "eta is only used by ddim"},
		{"karras with ddim", "", nil, []string{"a", "--sampler", "ddim", "--schedule", "karras"}, "no Karras sigmas"},
		{"clip skip zero", "", nil, []string{"a", "--clip-skip", "0"}, "--clip-skip"},
		{"threads zero", "", nil, []string{"a", "--threads", "0"}, "--threads"},
		{"batch count zero", "", nil, []string{"a", "--batch-count", "0"}, "--batch-count"},
		{"seed negative", "", nil, []string{"a", "--seed", "-2"}, "--seed"},
		{"seed too big", "", nil, []string{"a", "--seed", "4294967296"}, "--seed"},
		{"seed not a number", "", nil, []string{"a", "--seed", "x"}, `--seed must be a whole number, got "x"`},
		{"unknown flag", "", nil, []string{"a", "--frobnicate"}, "unknown flag: --frobnicate"},
		{"unknown shorthand", "", nil, []string{"a", "-z"}, "unknown shorthand flag"},
		{"missing prompts file", "", nil, []string{"--prompts", "nope.txt"}, "--prompts: open nope.txt"},
		{"prompts file only comments", "", map[string]string{"p.txt": "# c\n\n"}, []string{"--prompts", "p.txt"}, "no prompts"},
		{"empty stdin prompts", "", nil, []string{"--prompts", "-"}, "--prompts stdin: no prompts"},
		{"output not png", "", nil, []string{"a", "-o", "out.jpg"}, "must end in .png"},
		{"output bad verb", "", nil, []string{"a", "-o", "out%s.png"}, "integer verb"},
		{"output two verbs", "", nil, []string{"a", "-o", "%d-%d.png"}, "more than one"},
		{"output directory", "", nil, []string{"a", "-o", "out/"}, "names a directory"},
		{"invalid utf8 prompt", "", nil, []string{"bad \xff"}, "not valid UTF-8"},
		{"invalid utf8 negative", "", nil, []string{"a", "-n", "\xff"}, "not valid UTF-8"},
		{"tokenize without prompt", "", nil, []string{"tokenize"}, "tokenize takes one prompt (quote it), got 0 argument(s)"},
		{"inspect two paths", "", nil, []string{"inspect", "a", "b"}, "inspect takes one model, LoRA or embedding path, got 2 argument(s)"},
		{"steps not a number", "", nil, []string{"a", "--steps", "abc"}, `--steps must be a whole number, got "abc"`},
		{"cfg not a number", "", nil, []string{"a", "--cfg-scale", "x"}, `--cfg-scale must be a number, got "x"`},
		{"bench seed not a number", "", nil, []string{"bench", "--seed", "1.5"}, `--seed must be a whole number, got "1.5"`},
		{"version with args", "", nil, []string{"version", "x"}, "version takes no arguments, got 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := withModel
			opts.stdin = tc.stdin
			r := runFake(t, opts, withInputs(t, tc.files, tc.args)...)
			if r.code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, exitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", r.stderr, tc.want)
			}
			if !strings.Contains(r.stderr, "imggen --help") {
				t.Errorf("stderr %q does not point at --help", r.stderr)
			}
			if r.loads != 0 {
				t.Errorf("model loaded %d times on a usage error", r.loads)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if got := files(t, r.dir); len(got) != 0 {
				t.Errorf("files written: %q", got)
			}
		})
	}
}

// withInputs writes input files to their own directory and returns args
// with those names replaced by their paths, so the run's directory starts
// empty.
func withInputs(t *testing.T, fs map[string]string, args []string) []string {
	t.Helper()
	src := t.TempDir()
	args = append([]string(nil), args...)
	for name, data := range fs {
		path := filepath.Join(src, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		for i := range args {
			if args[i] == name {
				args[i] = path
			}
		}
	}
	return args
}

func TestModelFromEnvAndFlag(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want string
	}{
		{"env.safetensors", []string{"x", "--seed", "1"}, "env.safetensors"},
		{"env.safetensors", []string{"x", "--seed", "1", "-m", "flag.safetensors"}, "flag.safetensors"},
		{"", []string{"x", "--seed", "1", "--model", "flag.safetensors"}, "flag.safetensors"},
		{"", []string{"x", "--seed", "1"}, "builtin"}, // no model given: the built-in one
	} {
		r := runFake(t, runOpts{env: map[string]string{envModel: tc.env}}, tc.args...)
		if r.code != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "loading model "+tc.want) {
			t.Errorf("%v: stderr %q, want model %s", tc.args, r.stderr, tc.want)
		}
	}
}

func TestGenerateOne(t *testing.T) {
	r := runFake(t, withModel, "sunset, oil painting", "-n", "blurry", "--seed", "42", "-o", "out.png", "--steps", "3")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != "out.png\n" {
		t.Errorf("stdout %q, want the path", r.stdout)
	}
	if !strings.Contains(r.stderr, "seed 42\n") {
		t.Errorf("stderr %q lacks the seed", r.stderr)
	}
	req := r.gen.reqs[0]
	want := pipeline.Request{
		Prompt: "sunset, oil painting", NegativePrompt: "blurry", NegativeGiven: true, Width: 64, Height: 48,
		Steps: 3, CFGScale: 7.5, Sampler: "dpmpp_2m", Schedule: "karras", Seed: 42, ClipSkip: 1, LongPrompts: "truncate",
	}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("request %+v\nwant %+v", req, want)
	}
	params, err := pngout.ReadParameters(filepath.Join(r.dir, "out.png"))
	if err != nil {
		t.Fatal(err)
	}
	if wantText := want.InfoText(pipeline.ModelInfo{Name: "fake-model", Hash: fakeHash}); params != wantText {
		t.Errorf("parameters %q, want %q", params, wantText)
	}
	if got := files(t, r.dir); len(got) != 1 {
		t.Errorf("files %q, want just out.png", got)
	}
}

func TestDefaults(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want func(*pipeline.Request)
	}{
		{"defaults", nil, func(*pipeline.Request) {}},
		{"size flags", []string{"-W", "640", "-H", "448"}, func(r *pipeline.Request) { r.Width, r.Height = 640, 448 }},
		{"width only", []string{"--width", "128"}, func(r *pipeline.Request) { r.Width = 128 }},
		{"other sampler gets its own spacing", []string{"--sampler", "euler"}, func(r *pipeline.Request) { r.Sampler, r.Schedule = "euler", "default" }},
		{"explicit schedule", []string{"--sampler", "euler", "--schedule", "karras"}, func(r *pipeline.Request) { r.Sampler = "euler" }},
		{"dpmpp default spacing", []string{"--schedule", "default"}, func(r *pipeline.Request) { r.Schedule = "default" }},
		{"the rest", []string{"--cfg-scale", "6", "--clip-skip", "2", "--steps", "25", "--threads", "1"},
			func(r *pipeline.Request) { r.CFGScale, r.ClipSkip, r.Steps = 6, 2, 25 }},
		{"ddim with eta", []string{"--sampler", "ddim", "--eta", "0.5"},
			func(r *pipeline.Request) { r.Sampler, r.Schedule, r.Eta = "ddim", "default", 0.5 }},
		{"chunked long prompts", []string{"--long-prompts", "chunk"}, func(r *pipeline.Request) { r.LongPrompts = "chunk" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runFake(t, withModel, append([]string{"p", "--seed", "7"}, tc.args...)...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			want := pipeline.Request{
				Prompt: "p", Width: 64, Height: 48, Steps: 20, CFGScale: 7.5,
				Sampler: "dpmpp_2m", Schedule: "karras", Seed: 7, ClipSkip: 1, LongPrompts: "truncate",
			}
			tc.want(&want)
			if got := r.gen.reqs[0]; !reflect.DeepEqual(got, want) {
				t.Errorf("request %+v\nwant %+v", got, want)
			}
			if r.stdout != "imggen-7.png\n" {
				t.Errorf("stdout %q, want the default name", r.stdout)
			}
		})
	}
}

func TestRandomSeed(t *testing.T) {
	r := runFake(t, withModel, "a fox")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	m := regexp.MustCompile(`seed (\d+)\n`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no seed in stderr %q", r.stderr)
	}
	if want := "imggen-" + m[1] + ".png\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	params, err := pngout.ReadParameters(filepath.Join(r.dir, strings.TrimSpace(r.stdout)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(params, "Seed: "+m[1]+",") {
		t.Errorf("parameters %q lack seed %s", params, m[1])
	}
	if s := r.gen.reqs[0].Seed; s < 0 || s > maxSeed || fmt.Sprint(s) != m[1] {
		t.Errorf("request seed %d, printed %s", s, m[1])
	}
}

func TestBatchCount(t *testing.T) {
	tests := []struct {
		seed      string
		output    string
		wantSeeds []int64
		wantFiles []string
	}{
		{"100", "fox.png", []int64{100, 101, 102}, []string{"fox-0001.png", "fox-0002.png", "fox-0003.png"}},
		{"4294967294", "f/%02d.png", []int64{4294967294, 4294967295, 0}, []string{"f/01.png", "f/02.png", "f/03.png"}},
	}
	for _, tc := range tests {
		t.Run(tc.output, func(t *testing.T) {
			r := runFake(t, withModel, "a fox", "--batch-count", "3", "--seed", tc.seed, "-o", tc.output, "--steps", "1")
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for i, req := range r.gen.reqs {
				if req.Seed != tc.wantSeeds[i] {
					t.Errorf("image %d seed %d, want %d", i, req.Seed, tc.wantSeeds[i])
				}
			}
			if got := strings.Join(files(t, r.dir), " "); got != strings.Join(tc.wantFiles, " ") {
				t.Errorf("files %s, want %v", got, tc.wantFiles)
			}
			if r.stdout != strings.Join(tc.wantFiles, "\n")+"\n" {
				t.Errorf("stdout %q", r.stdout)
			}
		})
	}
}

const promptsFile = `# test prompts
a castle

sunset, oil painting
bad line ` + "\xff" + `
  # indented comment
FAIL this one
the last one
`

func TestBatchBadLinesContinue(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "prompts.txt")
	if err := os.WriteFile(pf, []byte(promptsFile), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runFake(t, withModel, "--prompts", pf, "-o", "out/%04d.png", "--seed", "100", "--steps", "2")
	if r.code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, exitFailure, r.stderr)
	}
	for _, want := range []string{
		"imggen: line 5: prompt is not valid UTF-8\n",
		"imggen: line 7: fake generation failure\n",
		"imggen: 2 of 5 images failed\n",
		"[1/5] line 2, seed 100\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	// Failed lines keep their numbers, so names follow the file's order.
	wantFiles := []string{"out/0001.png", "out/0002.png", "out/0005.png"}
	if got := files(t, r.dir); strings.Join(got, " ") != strings.Join(wantFiles, " ") {
		t.Errorf("files %q, want %q", got, wantFiles)
	}
	if r.stdout != strings.Join(wantFiles, "\n")+"\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	if r.loads != 1 {
		t.Errorf("model loaded %d times, want once", r.loads)
	}
	// Every prompt of a file starts from the same seed.
	for _, req := range r.gen.reqs {
		if req.Seed != 100 {
			t.Errorf("prompt %q seed %d, want 100", req.Prompt, req.Seed)
		}
	}
}

func TestJSONLines(t *testing.T) {
	r := runFake(t, runOpts{stdin: promptsFile, env: withModel.env},
		"--prompts", "-", "--json", "-o", "out/%04d.png", "--seed", "9", "--steps", "2", "-n", "blurry", "--batch-count", "2")
	if r.code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, exitFailure, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d JSON lines, want 10 (5 prompts x 2):\n%s", len(lines), r.stdout)
	}
	type rec struct {
		imageRecord
		Error *string `json:"error"`
	}
	var ok, failed int
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		var x rec
		json.Unmarshal([]byte(l), &x)
		if x.Error != nil {
			failed++
			if x.Line != 5 && x.Line != 7 {
				t.Errorf("failure on line %d: %s", x.Line, l)
			}
			for _, k := range []string{"line", "prompt", "error"} {
				if _, ok := m[k]; !ok {
					t.Errorf("failure record lacks %q: %s", k, l)
				}
			}
			continue
		}
		ok++
		for _, k := range []string{"path", "prompt", "negative_prompt", "seed", "steps", "sampler", "schedule",
			"cfg_scale", "width", "height", "clip_skip", "long_prompts", "model", "model_hash", "line", "seconds"} {
			if _, ok := m[k]; !ok {
				t.Errorf("record lacks %q: %s", k, l)
			}
		}
		want := imageRecord{
			Path: fmt.Sprintf("out/%04d.png", i+1), Prompt: x.Prompt, NegativePrompt: "blurry",
			Seed: 9 + int64(i%2), Steps: 2, Sampler: "dpmpp_2m", Schedule: "karras", CFGScale: 7.5,
			Width: 64, Height: 48, ClipSkip: 1, LongPrompts: "truncate", Model: "fake-model", ModelHash: fakeHash,
			Line: x.Line, Seconds: x.Seconds,
		}
		if !reflect.DeepEqual(x.imageRecord, want) {
			t.Errorf("record %+v\nwant %+v", x.imageRecord, want)
		}
		if _, err := os.Stat(filepath.Join(r.dir, x.Path)); err != nil {
			t.Error(err)
		}
	}
	if ok != 6 || failed != 4 {
		t.Errorf("%d images and %d failures, want 6 and 4", ok, failed)
	}
	// With --json the seeds are in the JSON, not repeated on stderr.
	if strings.Contains(r.stderr, "seed 9") {
		t.Errorf("stderr repeats seeds with --json:\n%s", r.stderr)
	}
}

func TestSingleFailureJSON(t *testing.T) {
	r := runFake(t, withModel, "FAIL", "--json", "--seed", "3", "-o", "x.png")
	if r.code != exitFailure {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rec failureRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("%q: %v", r.stdout, err)
	}
	if want := (failureRecord{Path: "x.png", Prompt: "FAIL", Seed: 3, Error: "fake generation failure"}); rec != want {
		t.Errorf("record %+v, want %+v", rec, want)
	}
	if len(files(t, r.dir)) != 0 {
		t.Error("a file was written for a failed image")
	}
}

func TestQuiet(t *testing.T) {
	r := runFake(t, runOpts{env: withModel.env, progress: true}, "a", "-q", "--seed", "1", "-o", "a.png")
	if r.code != exitOK || r.stderr != "" || r.stdout != "a.png\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0, the path, nothing", r.code, r.stdout, r.stderr)
	}
}

func TestProgressBar(t *testing.T) {
	r := runFake(t, runOpts{env: withModel.env, progress: true}, "a", "--seed", "1", "-o", "a.png", "--steps", "4")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "sampling") || !strings.Contains(r.stderr, "4/4") {
		t.Errorf("no progress bar in stderr:\n%q", r.stderr)
	}
	// Without a terminal (the default in runFake): one plain line per step,
	// with the elapsed time and an estimate, and no redraws.
	r = runFake(t, withModel, "a", "--seed", "1", "-o", "a.png", "--steps", "4")
	if n := strings.Count(r.stderr, "sampling: step "); n != 4 || strings.Contains(r.stderr, "\r") ||
		!strings.Contains(r.stderr, "sampling: step 4/4, ") || !strings.Contains(r.stderr, "elapsed, about") {
		t.Errorf("plain progress without a terminal:\n%q", r.stderr)
	}
	for _, quiet := range [][]string{{"-q"}, {"--progress", "none"}} {
		r = runFake(t, withModel, append([]string{"a", "--seed", "1", "-o", "a.png", "--steps", "4"}, quiet...)...)
		if strings.Contains(r.stderr, "sampling") {
			t.Errorf("%v: progress shown:\n%q", quiet, r.stderr)
		}
	}
	if r = runFake(t, withModel, "a", "--progress", "loud"); r.code != exitUsage {
		t.Errorf("--progress loud: exit %d", r.code)
	}
}

func TestInterrupt(t *testing.T) {
	r := runFake(t, runOpts{stdin: "first\nCANCEL now\nnever\n", env: withModel.env},
		"--prompts", "-", "-o", "o.png", "--seed", "1", "--steps", "5", "--json")
	if r.code != exitInterrupted {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, exitInterrupted, r.stderr)
	}
	if !strings.Contains(r.stderr, "imggen: interrupted") {
		t.Errorf("stderr %q", r.stderr)
	}
	// The finished first image stays; nothing of the interrupted one, and
	// the third never starts.
	if got := files(t, r.dir); len(got) != 1 || got[0] != "o-0001.png" {
		t.Errorf("files %q, want only o-0001.png", got)
	}
	if len(r.gen.reqs) != 2 {
		t.Errorf("%d generations started, want 2", len(r.gen.reqs))
	}
	if n := strings.Count(r.stdout, "\n"); n != 1 {
		t.Errorf("stdout has %d lines, want 1 (the finished image):\n%s", n, r.stdout)
	}
}

func TestLoadFailure(t *testing.T) {
	r := runFake(t, runOpts{env: withModel.env, loadErr: errors.New("model.safetensors: not a safetensors file")}, "a", "-o", "a.png")
	if r.code != exitFailure {
		t.Fatalf("exit %d, want %d", r.code, exitFailure)
	}
	if want := "imggen: loading the model (-m from $IMGGEN_MODEL): model.safetensors: not a safetensors file\n"; r.stderr[strings.LastIndex(r.stderr[:len(r.stderr)-1], "\n")+1:] != want {
		t.Errorf("stderr %q, want it to end with %q", r.stderr, want)
	}
	if r.stdout != "" || len(files(t, r.dir)) != 0 {
		t.Errorf("output on a failed load: %q %q", r.stdout, files(t, r.dir))
	}
}

// TestUnwritableOutputFailsFirst: an output folder that cannot take the
// images fails the run before the model loads, naming the user's path, not
// after generating every image.
func TestUnwritableOutputFailsFirst(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "blocked")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runFake(t, runOpts{stdin: "a\n", env: withModel.env},
		"--prompts", "-", "--batch-count", "2", "-o", filepath.Join(blocker, "%d.png"), "--seed", "1", "--steps", "1")
	if r.code != exitFailure || r.loads != 0 || len(r.gen.reqs) != 0 || !strings.Contains(r.stderr, blocker) || strings.Contains(r.stderr, ".tmp") {
		t.Errorf("exit %d after %d loads and %d images: %s", r.code, r.loads, len(r.gen.reqs), r.stderr)
	}
}

func TestPromptNamedLikeSubcommand(t *testing.T) {
	r := runFake(t, withModel, "--seed", "1", "-o", "t.png", "--", "tokenize")
	if r.code != exitOK || len(r.gen.reqs) != 1 || r.gen.reqs[0].Prompt != "tokenize" {
		t.Fatalf("exit %d, reqs %+v: %s", r.code, r.gen.reqs, r.stderr)
	}
}

func TestTruncationWarning(t *testing.T) {
	long := strings.Repeat("red fox ", 40)
	r := runFake(t, withModel, long, "-n", long, "--seed", "1", "-o", "t.png")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"warning: prompt is 80 tokens, over the limit of 75", "warning: negative prompt is 80 tokens"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}

func TestTokenize(t *testing.T) {
	tok := textenc.NewCLIPTokenizer(textenc.EOT)
	r := runFake(t, runOpts{}, "tokenize", "sunset, oil painting")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	enc := tok.Encode("sunset, oil painting")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(enc.Tokens)+2 {
		t.Fatalf("output:\n%s", r.stdout)
	}
	for i, tk := range enc.Tokens {
		f := strings.Fields(lines[i+1])
		if len(f) != 3 || f[0] != fmt.Sprint(i+1) || f[1] != fmt.Sprint(enc.IDs[i+1]) || f[2] != tk {
			t.Errorf("line %q, want %d %d %s", lines[i+1], i+1, enc.IDs[i+1], tk)
		}
	}
	if want := fmt.Sprintf("%d of 75 tokens", len(enc.Tokens)); lines[len(lines)-1] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-1], want)
	}
	if enc.Tokens[0] != "sunset</w>" || len(enc.Tokens) != 4 {
		t.Errorf("tokens %q", enc.Tokens)
	}
}

func TestTokenizeTruncated(t *testing.T) {
	prompt := strings.Repeat("red fox ", 38) + "the very end"
	r := runFake(t, runOpts{}, "tokenize", prompt)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"79 of 75 tokens", `4 tokens over the limit are dropped: "fox the very end"`, "(dropped)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runFake(t, runOpts{}, "tokenize", "--json", prompt)
	var rec tokenizeRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
		t.Fatalf("%v: %q", err, r.stdout)
	}
	if rec.Count != 79 || rec.Limit != 75 || !rec.Truncated || rec.Dropped != "fox the very end" ||
		len(rec.IDs) != 77 || len(rec.Tokens) != 79 || rec.Tokens[78].ID != nil || !rec.Tokens[78].Dropped ||
		rec.Tokens[0].ID == nil || *rec.Tokens[0].ID != rec.IDs[1] {
		t.Errorf("record %+v", rec)
	}
	if strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("JSON is not one line: %q", r.stdout)
	}
}

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"Examples:", "--prompts", "--batch-count", "Exit codes", "huggingface.co", "%04d", "tokenize", "inspect"}},
		{[]string{"tokenize", "--help"}, []string{"75", "--json"}},
		{[]string{"version"}, []string{"imggen ", "go1."}},
		{[]string{"--version"}, []string{"imggen version "}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runFake(t, runOpts{}, tc.args...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

func TestInspectMissing(t *testing.T) {
	r := runFake(t, runOpts{}, "inspect", "does-not-exist.safetensors")
	if r.code != exitFailure || !strings.Contains(r.stderr, "does-not-exist.safetensors") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRunEntry goes through run, the function main calls, with a real
// loader: a usage error must come back before any model is opened.
func TestRunEntry(t *testing.T) {
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	code := run([]string{"a", "--steps", "0", "-m", "missing.safetensors"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "steps must be") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	code = run([]string{"a", "--seed", "1", "-m", "missing.safetensors", "-q"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitFailure || !strings.Contains(stderr.String(), "missing.safetensors") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// TestReleasePolicy: one image hands each network's mapped weights back
// when it is done with them; a batch keeps them for the next image.
func TestReleasePolicy(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		release bool
	}{
		{[]string{"a red fox"}, true},
		{[]string{"a red fox", "--batch-count", "2"}, false},
		{[]string{"--prompts", "-"}, false},
	} {
		o := withModel
		o.stdin = "one\ntwo\n"
		r := runFake(t, o, tc.args...)
		if r.code != exitOK || r.loadOpts.ReleaseWeights != tc.release {
			t.Errorf("%q: exit %d, ReleaseWeights %v, want %v", tc.args, r.code, r.loadOpts.ReleaseWeights, tc.release)
		}
	}
}

// TestEveryNumberChecked: every numeric flag a user can type, given NaN,
// infinities, a huge, a negative or an empty value, is a usage error (exit
// 2) before any model is loaded: never a panic, never a run.
func TestEveryNumberChecked(t *testing.T) {
	bad := []string{"nan", "NaN", "inf", "+Inf", "-inf", "1e309", "-1", "99999999999999999999", ""}
	flags := []struct {
		cmd  []string
		flag string
		ok   func(v string) bool // a value the command accepts (skipped)
	}{
		{nil, "--cfg-scale", nil}, {nil, "--eta", nil}, {nil, "--steps", nil}, {nil, "-W", nil}, {nil, "-H", nil},
		{nil, "--seed", func(v string) bool { return v == "-1" }}, // -1 draws a random seed
		{nil, "--batch-count", nil}, {nil, "--clip-skip", nil}, {nil, "--threads", nil}, {nil, "--strength", nil},
		{[]string{"bench"}, "--cfg-scale", nil}, {[]string{"bench"}, "--steps", nil}, {[]string{"bench"}, "-W", nil},
		{[]string{"bench"}, "-H", nil}, {[]string{"bench"}, "--threads", nil},
	}
	for _, f := range flags {
		for _, v := range bad {
			if f.ok != nil && f.ok(v) {
				continue
			}
			args := append(append([]string(nil), f.cmd...), f.flag, v)
			if f.cmd == nil {
				args = append([]string{"a red fox", "--sampler", "ddim"}, args...)
			}
			r := runFake(t, withModel, args...)
			if r.code != exitUsage || r.loads != 0 || strings.Contains(r.stderr, "panic") {
				t.Errorf("%q: exit %d after %d loads, want a usage error (2) before loading; stderr %q", args, r.code, r.loads, r.stderr)
			}
		}
	}
}

// failingWriter is a full disk: every write fails.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestStdoutWriteErrors: data lost on stdout fails the run (exit 1, with a
// message), and a batch stops instead of making images whose paths would
// be lost.
func TestStdoutWriteErrors(t *testing.T) {
	for _, args := range [][]string{
		{"a red fox", "--batch-count", "3", "--seed", "1"},
		{"a red fox", "--batch-count", "3", "--seed", "1", "--json"},
		{"tokenize", "a red fox"},
		{"version"},
	} {
		dir := t.TempDir()
		t.Chdir(dir)
		gen := &fakeGen{}
		var stderr bytes.Buffer
		a := &app{
			stdin: strings.NewReader(""), stdout: failingWriter{}, stderr: &stderr,
			getenv: func(k string) string { return map[string]string{envModel: "model.safetensors"}[k] },
			load: func(string, model.Options, pipeline.Options) (*loaded, error) {
				return &loaded{generator: gen, name: "fake-model", hash: func() (string, error) { return fakeHash, nil },
					close: func() error { return nil }}, nil
			},
		}
		code := a.run(context.Background(), args)
		if code != exitFailure || !strings.Contains(stderr.String(), "writing to standard output: no space left on device") {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
		if n := len(gen.reqs); args[0] == "a red fox" && n != 1 {
			t.Errorf("%q: %d images made after stdout failed, want 1", args, n)
		}
	}
}

// TestMetadataRecordsEverySetting: two runs that differ only in one
// setting that changes the pixels differ in the PNG's parameters and in
// the JSON record, so either is enough to reproduce the image.
func TestMetadataRecordsEverySetting(t *testing.T) {
	base := []string{"a red fox", "--sampler", "euler", "--seed", "1", "--steps", "4", "-o", "out.png", "--json"}
	vae := filepath.Join(t.TempDir(), "my-vae.safetensors")
	if err := os.WriteFile(vae, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	metadata := func(args ...string) (string, string) {
		t.Helper()
		r := runFake(t, withModel, append(append([]string(nil), base...), args...)...)
		if r.code != exitOK {
			t.Fatalf("%q: exit %d: %s", args, r.code, r.stderr)
		}
		params, err := pngout.ReadParameters(filepath.Join(r.dir, "out.png"))
		if err != nil {
			t.Fatal(err)
		}
		var rec imageRecord
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
			t.Fatal(err)
		}
		rec.Seconds, rec.Path = 0, ""
		js, _ := json.Marshal(rec)
		return params, string(js)
	}
	changes := []struct{ from, to []string }{
		{nil, []string{"-n", "blurry"}}, {nil, []string{"--steps", "5"}}, {nil, []string{"--sampler", "ddim"}},
		{nil, []string{"--schedule", "karras"}}, {nil, []string{"--cfg-scale", "5"}}, {nil, []string{"-W", "72"}},
		{nil, []string{"-H", "40"}}, {nil, []string{"--seed", "2"}}, {nil, []string{"--clip-skip", "2"}},
		{nil, []string{"--timestep-spacing", "trailing"}}, {nil, []string{"--prediction", "v"}},
		{nil, []string{"--long-prompts", "chunk"}}, {nil, []string{"--vae", vae}},
		{[]string{"--sampler", "ddim"}, []string{"--sampler", "ddim", "--eta", "0.5"}},
		{nil, []string{"--precision", "fp32-winograd"}},
	}
	if pipeline.NativeBF16() { // elsewhere bf16 is refused (TestPrecisionFlag)
		changes = append(changes, struct{ from, to []string }{nil, []string{"--precision", "bf16"}})
	}
	for _, tc := range changes {
		params0, json0 := metadata(tc.from...)
		params, js := metadata(tc.to...)
		if params == params0 {
			t.Errorf("%q: the PNG parameters do not change: %q", tc.to, params)
		}
		if js == json0 {
			t.Errorf("%q: the JSON record does not change: %s", tc.to, js)
		}
	}
}

// TestTokenizeReadsPromptsAsGenerationDoes: emphasis syntax is parsed, not
// counted (thirty "(red:1.3)" are 30 tokens of weight 1.3, nothing
// dropped), and --long-prompts chunk keeps every token, in the chunks
// generation makes (BREAK ends one).
func TestTokenizeReadsPromptsAsGenerationDoes(t *testing.T) {
	record := func(args ...string) tokenizeRecord {
		t.Helper()
		r := runFake(t, runOpts{}, append([]string{"tokenize", "--json"}, args...)...)
		if r.code != exitOK {
			t.Fatalf("%q: exit %d: %s", args, r.code, r.stderr)
		}
		var rec tokenizeRecord
		if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	rec := record(strings.Repeat("(red:1.3) ", 30))
	if rec.Count != 30 || rec.Truncated || len(rec.Tokens) != 30 || rec.Tokens[29].Weight != 1.3 || rec.Tokens[29].Dropped {
		t.Errorf("emphasis: %+v", rec)
	}
	long := strings.Repeat("red fox ", 38) + "BREAK the very end"
	rec = record("--long-prompts", "chunk", long)
	tok := textenc.NewCLIPTokenizer(textenc.EOT)
	chunks, _ := tok.EncodeWeightedChunks(long)
	if rec.Truncated || rec.Count != 79 || len(rec.Chunks) != len(chunks) || len(chunks) != 3 {
		t.Fatalf("chunk: %d tokens, truncated %v, %d chunks (want %d)", rec.Count, rec.Truncated, len(rec.Chunks), len(chunks))
	}
	for i, tk := range rec.Tokens {
		if tk.Dropped || tk.ID == nil {
			t.Fatalf("token %d %q dropped in chunk mode", i, tk.Token)
		}
	}
	// "the very end" starts the third chunk, after BREAK.
	if id := *rec.Tokens[76].ID; id != chunks[2][1] || rec.Tokens[76].Token != "the</w>" {
		t.Errorf("token 77 %q id %d, want the first of chunk 3 (%d)", rec.Tokens[76].Token, id, chunks[2][1])
	}
	if r := runFake(t, runOpts{}, "tokenize", "--long-prompts", "chunk", long); !strings.Contains(r.stdout, "79 tokens in 3 chunks of 75") {
		t.Errorf("text output: %s", r.stdout)
	}
}

// TestMistypedSubcommand: a one-word prompt a typo away from a subcommand
// is a usage error that names it; after -- it is a prompt.
func TestMistypedSubcommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // in stderr; "" for a generated image
	}{
		{[]string{"helpp"}, `"helpp" looks like the subcommand "help"`},
		{[]string{"tokenise"}, `"tokenise" looks like the subcommand "tokenize"`},
		{[]string{"inpsect"}, `"inpsect" looks like the subcommand "inspect"`},
		{[]string{"--", "helpp"}, ""},
		{[]string{"hello"}, ""},
		{[]string{"a red fox"}, ""},
	} {
		r := runFake(t, withModel, append([]string{"--seed", "1", "-q"}, tc.args...)...)
		if tc.want == "" {
			if r.code != exitOK || len(r.gen.reqs) != 1 {
				t.Errorf("%q: exit %d, %d images: %s", tc.args, r.code, len(r.gen.reqs), r.stderr)
			}
			continue
		}
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "imggen -- ") || r.loads != 0 {
			t.Errorf("%q: exit %d, stderr %q", tc.args, r.code, r.stderr)
		}
	}
}

// TestInspectUnsupported: inspect reports a model imggen cannot run, then
// exits 1.
func TestInspectUnsupported(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mystery.safetensors")
	header := `{"model.mystery_block.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	data := append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...)
	if err := os.WriteFile(path, append(data, 0, 0, 0, 0), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runFake(t, runOpts{}, "inspect", path)
	if r.code != exitFailure || !strings.Contains(r.stdout, "architecture") || !strings.Contains(r.stderr, "cannot run this model") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestSamplerNamesPeopleType: AUTOMATIC1111's and stable-diffusion.cpp's
// sampler names map to imggen's, with the schedule the name implies.
func TestSamplerNamesPeopleType(t *testing.T) {
	for _, tc := range []struct{ name, sampler, schedule string }{
		{"DPM++ 2M Karras", "dpmpp_2m", "karras"}, {"Euler a", "euler_a", "default"}, {"dpm++2m", "dpmpp_2m", "karras"},
		{"PLMS", "pndm", "default"}, {"LMS Karras", "lms", "karras"},
	} {
		r := runFake(t, withModel, "a red fox", "--seed", "1", "-q", "--sampler", tc.name)
		if r.code != exitOK || len(r.gen.reqs) != 1 || r.gen.reqs[0].Sampler != tc.sampler || r.gen.reqs[0].Schedule != tc.schedule {
			t.Errorf("--sampler %q: exit %d, requests %+v: %s", tc.name, r.code, r.gen.reqs, r.stderr)
		}
	}
	if r := runFake(t, withModel, "a red fox", "--sampler", "heun"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown sampler "heun"`) {
		t.Errorf("--sampler heun: exit %d: %s", r.code, r.stderr)
	}
}

// readTree returns every file under dir by relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestShardsMakeTheWholeRun: N processes with --shard I/N write, together,
// exactly the files of one unsharded run (names, seeds and bytes).
func TestShardsMakeTheWholeRun(t *testing.T) {
	prompts := "a red fox\na castle\n# comment\na boat\n"
	args := []string{"--prompts", "-", "--batch-count", "2", "--seed", "7", "-o", "out/%03d.png", "-q"}
	run := func(extra ...string) map[string][]byte {
		t.Helper()
		r := runFake(t, runOpts{stdin: prompts, env: withModel.env}, append(append([]string(nil), args...), extra...)...)
		if r.code != exitOK {
			t.Fatalf("%q: exit %d: %s", extra, r.code, r.stderr)
		}
		return readTree(t, r.dir)
	}
	whole := run()
	if len(whole) != 6 {
		t.Fatalf("%d files, want 6", len(whole))
	}
	for _, n := range []int{2, 4, 7} {
		union := map[string][]byte{}
		for i := range n {
			for name, b := range run("--shard", fmt.Sprintf("%d/%d", i, n)) {
				if _, dup := union[name]; dup {
					t.Errorf("%d shards: %s written twice", n, name)
				}
				union[name] = b
			}
		}
		if !reflect.DeepEqual(union, whole) {
			t.Errorf("%d shards: the union of their files differs from the whole run's", n)
		}
	}
	for _, bad := range []string{"2/2", "-1/2", "0/0", "1", "a/b", "1/2/3"} {
		if r := runFake(t, withModel, "a", "--shard", bad); r.code != exitUsage || !strings.Contains(r.stderr, "--shard must be I/N") {
			t.Errorf("--shard %s: exit %d: %s", bad, r.code, r.stderr)
		}
	}
}

// TestSkipExisting: a re-run with --skip-existing keeps the images whose
// files hold what would be written and makes only the others.
func TestSkipExisting(t *testing.T) {
	dir := t.TempDir()
	args := func(extra ...string) []string {
		return append([]string{"a red fox", "--batch-count", "3", "--seed", "1", "-o", filepath.Join(dir, "%d.png"), "-q"}, extra...)
	}
	if r := runFake(t, withModel, args()...); r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	before := readTree(t, dir)
	if err := os.Remove(filepath.Join(dir, "2.png")); err != nil {
		t.Fatal(err)
	}
	r := runFake(t, withModel, args("--skip-existing", "--json")...)
	if r.code != exitOK || len(r.gen.reqs) != 1 || r.gen.reqs[0].Seed != 2 || strings.Count(r.stdout, `"skipped":true`) != 2 {
		t.Errorf("resume: exit %d, %d images made, stdout %s", r.code, len(r.gen.reqs), r.stdout)
	}
	if !reflect.DeepEqual(readTree(t, dir), before) {
		t.Error("the resumed run's files differ from the first run's")
	}
	// Other settings: the files do not hold these images, all are made.
	if r := runFake(t, withModel, args("--skip-existing", "--cfg-scale", "5")...); len(r.gen.reqs) != 3 {
		t.Errorf("changed settings: %d images made, want 3", len(r.gen.reqs))
	}
}

// TestPromptFlagAndStdout: -p gives the prompt (even one like a flag or a
// subcommand); -o - writes the PNG itself to stdout, for one image only;
// a failed image's JSON record names its path.
func TestPromptFlagAndStdout(t *testing.T) {
	for _, p := range []string{"-a dash", "tokenize", "tokenise"} {
		r := runFake(t, withModel, "-p", p, "--seed", "1", "-q")
		if r.code != exitOK || len(r.gen.reqs) != 1 || r.gen.reqs[0].Prompt != p {
			t.Errorf("-p %q: exit %d %+v: %s", p, r.code, r.gen.reqs, r.stderr)
		}
	}
	if r := runFake(t, withModel, "-p", "a", "b"); r.code != exitUsage || !strings.Contains(r.stderr, "give the prompt once") {
		t.Errorf("-p and an argument: exit %d: %s", r.code, r.stderr)
	}
	r := runFake(t, withModel, "a red fox", "--seed", "4", "-o", "-", "-q")
	params, err := pngout.ParseParameters([]byte(r.stdout))
	if r.code != exitOK || err != nil || !strings.HasPrefix(params, "a red fox\n") || len(readTree(t, r.dir)) != 0 {
		t.Errorf("-o -: exit %d, parameters %q (%v), files %v", r.code, params, err, readTree(t, r.dir))
	}
	for _, args := range [][]string{{"a", "-o", "-", "--batch-count", "2"}, {"a", "-o", "-", "--json"}} {
		if r := runFake(t, withModel, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d", args, r.code)
		}
	}
	r = runFake(t, withModel, "FAIL here", "--seed", "1", "-o", "x.png", "--json")
	var rec failureRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.Path != "x.png" {
		t.Errorf("failure record %q: %v", r.stdout, err)
	}
}

// TestMemoryCheck: a size whose estimated memory is more than the system
// has is refused before the work, unless --ignore-memory.
func TestMemoryCheck(t *testing.T) {
	run := func(avail int64, args ...string) result {
		dir := t.TempDir()
		t.Chdir(dir)
		gen := &fakeGen{}
		var stdout, stderr bytes.Buffer
		a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
			getenv: func(string) string { return "" }, memAvailable: func() int64 { return avail },
			load: func(string, model.Options, pipeline.Options) (*loaded, error) {
				return &loaded{generator: gen, name: "m", hash: func() (string, error) { return fakeHash, nil }, close: func() error { return nil }}, nil
			}}
		code := a.run(context.Background(), args)
		return result{code: code, stdout: stdout.String(), stderr: stderr.String(), gen: gen}
	}
	big := []string{"a", "-W", "4096", "-H", "4096", "--steps", "1", "--seed", "1", "-o", "x.png"} // ~20 GB of activations
	if r := run(4<<30, big...); r.code != exitUsage || len(r.gen.reqs) != 0 || !strings.Contains(r.stderr, "--ignore-memory") {
		t.Errorf("refusal: exit %d, %d images: %s", r.code, len(r.gen.reqs), r.stderr)
	}
	if r := run(4<<30, append(big, "--ignore-memory")...); r.code != exitOK || !strings.Contains(r.stderr, "needs about") {
		t.Errorf("--ignore-memory: exit %d: %s", r.code, r.stderr)
	}
	if r := run(64<<30, big...); r.code != exitOK || strings.Contains(r.stderr, "needs about") {
		t.Errorf("enough memory: exit %d: %s", r.code, r.stderr)
	}
}
