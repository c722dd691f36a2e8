package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/pngout"
)

// genOptions are the flag values of the root (generate) command.
type genOptions struct {
	output, model, negative string
	prompt                  string // -p/--prompt, the prompt argument's alternative
	vae                     string // a replacement VAE file
	steps                   int
	sampler, schedule       string
	cfgScale, eta           float64
	width, height           int
	seed                    int64
	batchCount, clipSkip    int
	threads                 int
	prompts                 string
	longPrompts             string // "truncate" or "chunk"
	spacing, prediction     string // overrides of the model's scheduler config
	vaeTiling               string // auto, on or off
	precision               string // fp32 or bf16
	json, quiet             bool

	shard           string  // "I/N": make only the images with index ≡ I (mod N)
	shardI, shardN  int     // parsed --shard (0/1 without it)
	skipExisting    bool    // skip an image whose file holds what would be written
	progressFlag    string  // --progress: auto, bar, plain or none
	expectHash      string  // reproduce: the recorded model hash
	modelFromEnv    bool    // o.model came from $IMGGEN_MODEL
	ignoreMemory    bool    // --ignore-memory
	initImage, mask string  // image-to-image and inpainting inputs
	strength        float64 // denoising strength for -i, (0, 1]
	resize          bool    // scale and crop -i (and --mask) to -W x -H

	originalSize, cropCoords, targetSize string // SDXL's size conditioning

	loras   []string // --lora FILE[:SCALE]
	loraDir string   // --lora-dir, else $IMGGEN_LORA_DIR
	lorasOf *loraSet // the opened LoRAs of the run

	embeddingFlags []string             // --embedding FILE or TOKEN=FILE
	embeddingsDir  string               // --embeddings-dir
	embeddings     []pipeline.Embedding // opened
}

// stdoutName as -o writes the PNG to stdout.
const stdoutName = "-"

const (
	maxSeed       = 1<<32 - 1 // torch seeds its generator with the low 32 bits
	maxBatchCount = 10000
	envModel      = "IMGGEN_MODEL"
)

// job is one image to make.
type job struct {
	index  int // 1-based number of the image in the run (for -o)
	line   int // line in the --prompts file, 0 for a prompt argument
	prompt string
	seed   int64
	err    error // a prompt line that cannot run (reported in order)
	loras  []pipeline.LoRA
}

// imageRecord is the --json line for a written image.
type imageRecord struct {
	Path           string            `json:"path"`
	Prompt         string            `json:"prompt"`
	NegativePrompt string            `json:"negative_prompt"`
	Seed           int64             `json:"seed"`
	Steps          int               `json:"steps"`
	Sampler        string            `json:"sampler"`
	Schedule       string            `json:"schedule"`
	CFGScale       float64           `json:"cfg_scale"`
	Width          int               `json:"width"`
	Height         int               `json:"height"`
	ClipSkip       int               `json:"clip_skip"`
	Spacing        string            `json:"timestep_spacing,omitempty"`
	Prediction     string            `json:"prediction,omitempty"`
	VAETiling      string            `json:"vae_tiling,omitempty"` // "on" for a tiled decode
	Precision      string            `json:"precision,omitempty"`  // "bf16" for a bfloat16 run
	LongPrompts    string            `json:"long_prompts"`
	Eta            float64           `json:"eta,omitempty"`
	InitImage      string            `json:"init_image,omitempty"`
	Mask           string            `json:"mask,omitempty"`
	Strength       float64           `json:"denoising_strength,omitempty"`
	OriginalSize   string            `json:"original_size,omitempty"` // SDXL size conditioning, WxH, when not the output size
	CropCoords     string            `json:"crop_coords,omitempty"`   // TOP,LEFT when not 0,0
	TargetSize     string            `json:"target_size,omitempty"`   // WxH when not the output size
	LoRAs          []loraRecord      `json:"loras,omitempty"`
	Embeddings     []embeddingRecord `json:"embeddings,omitempty"`
	Model          string            `json:"model"`
	VAE            string            `json:"vae,omitempty"`
	ModelHash      string            `json:"model_hash"`
	Line           int               `json:"line,omitempty"`
	Seconds        float64           `json:"seconds"`
	Skipped        bool              `json:"skipped,omitempty"` // --skip-existing: the file already held this image
}

// failureRecord is the --json line for an image that failed.
type failureRecord struct {
	Path   string `json:"path"` // where the image would have gone
	Line   int    `json:"line,omitempty"`
	Prompt string `json:"prompt"`
	Seed   int64  `json:"seed"`
	Error  string `json:"error"`
}

// generate is the root command: validate everything, then load the model
// once and make every image.
func (a *app) generate(cmd *cobra.Command, o *genOptions, args []string) error {
	base, jobs, out, err := a.prepare(cmd, o, args)
	if err != nil {
		return err
	}
	pipeline.SetThreads(o.threads)

	a.warnf(o, "loading model %s\n", o.model)
	start := time.Now()
	// One image releases each network's mapped weights when it is done
	// with them (lower peak memory); a batch keeps them for the next image.
	mine := 0
	for _, j := range jobs {
		if o.inShard(j) {
			mine++
		}
	}
	m, err := a.loadCtx(cmd.Context(), o.model, o.modelFromEnv, model.Options{VAE: o.vae}, pipeline.Options{ReleaseWeights: mine == 1, Embeddings: o.embeddings})
	if err != nil {
		return err
	}
	defer m.close()
	a.warnf(o, "loaded %s in %.1fs\n", m.name, time.Since(start).Seconds())

	checkLoRAs(m, jobs)
	base, notes, err := pipeline.Plan(base, m.Defaults())
	if err != nil {
		return fmt.Errorf("with the model's defaults: %w", err)
	}
	for _, n := range notes {
		a.warnf(o, "%s\n", n)
	}
	if err := a.checkMemory(o, base); err != nil {
		return err
	}
	r := &runner{app: a, o: o, gen: m, name: m.name, out: out, hash: a.startHash(o, m.hash), total: len(jobs)}
	if o.vae != "" {
		r.vae = filepath.Base(o.vae)
	}
	if o.expectHash != "" {
		if h := r.hash(); h != o.expectHash {
			a.warnf(o, "warning: the model's hash is %s, the picture's %s: it will not come out the same\n", h, o.expectHash)
		}
	}
	// The negative prompt is the same for every image: warn once.
	if w := pipeline.PromptWarning("negative prompt", base.NegativePrompt, base.LongPrompts); w != "" {
		a.warnf(o, "%s\n", w)
	}
	failed := 0
	for _, j := range jobs {
		if !o.inShard(j) {
			continue
		}
		req := base
		req.Prompt, req.Seed, req.LoRAs = j.prompt, j.seed, j.loras
		if err := r.runJob(cmd.Context(), j, req); err != nil {
			if errors.Is(err, context.Canceled) {
				return err
			}
			failed++
			r.reportFailure(j, err)
		}
		if err := a.stdoutFailed(); err != nil {
			// The paths or records of the next images would be lost too.
			return err
		}
	}
	if failed > 0 {
		if len(jobs) > 1 {
			fmt.Fprintf(a.stderr, "imggen: %d of %d images failed\n", failed, len(jobs))
		}
		return errReported
	}
	return nil
}

// prepare checks every flag and input and builds the jobs, all before the
// model is loaded, so usage errors are reported at once.
func (a *app) prepare(cmd *cobra.Command, o *genOptions, args []string) (pipeline.Request, []job, outputPattern, error) {
	var zero pipeline.Request
	fail := func(err error) (pipeline.Request, []job, outputPattern, error) {
		return zero, nil, outputPattern{}, err
	}
	if o.prompt != "" {
		if len(args) > 0 {
			return fail(usagef("give the prompt once: as an argument or with -p/--prompt, not both"))
		}
		args = []string{o.prompt}
	}
	switch {
	case len(args) > 1:
		return fail(usagef("expected one prompt argument, got %d; quote the prompt: imggen \"%s\"", len(args), strings.Join(args, " ")))
	case len(args) == 1 && o.prompts != "":
		return fail(usagef("give either a prompt argument or --prompts, not both"))
	case len(args) == 0 && o.prompts == "":
		return fail(usagef("no prompt: give one as an argument (imggen \"a red fox\") or use --prompts FILE"))
	case len(args) == 1 && !utf8.ValidString(args[0]):
		return fail(usagef("prompt is not valid UTF-8"))
	case len(args) == 1 && o.prompt == "" && cmd.ArgsLenAtDash() < 0 && nearSubcommand(cmd, args[0]) != "":
		return fail(usagef("%q looks like the subcommand %q; to draw the word itself, put it after --: imggen -- %s",
			args[0], nearSubcommand(cmd, args[0]), args[0]))
	case !utf8.ValidString(o.negative):
		return fail(usagef("negative prompt is not valid UTF-8"))
	case o.threads < 1:
		return fail(usagef("--threads must be at least 1, got %d", o.threads))
	case !slices.Contains(pipeline.Precisions, o.precision):
		return fail(usagef("--precision must be one of %s, got %q", strings.Join(pipeline.Precisions, ", "), o.precision))
	case o.precision == "bf16" && !pipeline.NativeBF16():
		return fail(usagef("--precision bf16 needs a CPU with AVX-512 BF16 (Zen 4 or later, Cooper Lake, Sapphire Rapids or later), which this one lacks; use --precision fp32"))
	case o.progressFlag != progressAuto && o.progressFlag != progressBar && o.progressFlag != progressPlain && o.progressFlag != progressNone:
		return fail(usagef("--progress must be auto, bar, plain or none, got %q", o.progressFlag))
	case o.batchCount < 1 || o.batchCount > maxBatchCount:
		return fail(usagef("--batch-count must be between 1 and %d, got %d", maxBatchCount, o.batchCount))
	case o.seed < -1 || o.seed > maxSeed:
		return fail(usagef("--seed must be between 0 and %d (or -1 for random), got %d", maxSeed, o.seed))
	case o.clipSkip < 1:
		return fail(usagef("--clip-skip must be at least 1, got %d", o.clipSkip))
	case !(o.strength > 0 && o.strength <= 1):
		return fail(usagef("--strength must be greater than 0 and at most 1, got %g", o.strength))
	}
	if o.vae != "" {
		if st, err := os.Stat(o.vae); err != nil || st.IsDir() {
			return fail(usagef("--vae %s: not a file", o.vae))
		}
	}
	o.shardI, o.shardN = 0, 1
	if o.shard != "" {
		i, n, ok := strings.Cut(o.shard, "/")
		var err1, err2 error
		o.shardI, err1 = strconv.Atoi(i)
		o.shardN, err2 = strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || o.shardN < 1 || o.shardI < 0 || o.shardI >= o.shardN {
			return fail(usagef("--shard must be I/N with 0 <= I < N, got %q", o.shard))
		}
	}

	// Unset fields (sampler, schedule, size) are left to pipeline.Plan,
	// which knows the model's defaults once it is loaded.
	samplerName, schedule := "", o.schedule
	if cmd.Flags().Changed("sampler") {
		// Also AUTOMATIC1111's and stable-diffusion.cpp's names.
		var implied string
		samplerName, implied = pipeline.ResolveSampler(o.sampler)
		if implied != "" && schedule == "" {
			schedule = implied
		}
	}
	req := pipeline.Request{
		NegativePrompt:  o.negative,
		NegativeGiven:   cmd.Flags().Changed("negative-prompt"),
		Width:           o.width,
		Height:          o.height,
		Steps:           o.steps,
		CFGScale:        o.cfgScale,
		Sampler:         samplerName,
		Schedule:        schedule,
		Eta:             o.eta,
		ClipSkip:        o.clipSkip,
		LongPrompts:     o.longPrompts,
		TimestepSpacing: o.spacing,
		Prediction:      o.prediction,
		VAETiling:       o.vaeTiling,
		Precision:       nonDefaultPrecision(o.precision),
	}
	// The native size is only known after loading: check given sizes on
	// their own, the rest planned with a stand-in model that always passes.
	for _, d := range []struct {
		flag string
		v    int
		set  bool
	}{{"-W/--width", o.width, cmd.Flags().Changed("width")}, {"-H/--height", o.height, cmd.Flags().Changed("height")}} {
		if d.set && (d.v < 8 || d.v%8 != 0) {
			return fail(usagef("%s must be a positive multiple of 8, got %d", d.flag, d.v))
		}
	}
	if err := o.sizeConditioning(&req); err != nil {
		return fail(err)
	}
	if err := o.prepareImages(&req, cmd.Flags().Changed("strength")); err != nil {
		return fail(err)
	}
	if _, _, err := pipeline.Plan(req, pipeline.ModelDefaults{Width: 512, Height: 512}); err != nil {
		return fail(usageError{err})
	}

	var prompts []job
	if o.prompts != "" {
		var err error
		if prompts, err = a.readPromptsFlag(o.prompts); err != nil {
			return fail(err)
		}
	} else {
		prompts = []job{{prompt: args[0]}}
	}

	if err := a.resolveLoRAs(o, prompts); err != nil {
		return fail(err)
	}
	var err error
	if o.embeddings, err = openEmbeddings(o.embeddingFlags, o.embeddingsDir); err != nil {
		return fail(err)
	}

	if o.model == "" {
		o.model = a.getenv(envModel)
		o.modelFromEnv = o.model != ""
	}
	if o.model == "" {
		o.model = model.Builtin
	}

	if o.seed == -1 {
		o.seed = randomSeed()
	}
	spec := o.output
	if spec == "" {
		spec = fmt.Sprintf("imggen-%d.png", o.seed)
	}
	var out outputPattern
	if spec == stdoutName {
		// The PNG itself goes to stdout: one image, and nothing else there.
		switch {
		case len(prompts)*o.batchCount != 1:
			return fail(usagef("-o - writes one image to stdout; this run makes %d", len(prompts)*o.batchCount))
		case o.json:
			return fail(usagef("-o - and --json both write to stdout; pick one"))
		}
		out.before = stdoutName
	} else {
		var err error
		if out, err = parseOutput(spec); err != nil {
			return fail(usageError{err})
		}
	}

	// Image i of a prompt uses seed+i, wrapped to the 32 bits torch uses,
	// so each prompt line gives the same images as it would alone.
	jobs := make([]job, 0, len(prompts)*o.batchCount)
	for _, p := range prompts {
		for i := range o.batchCount {
			p.index = len(jobs) + 1
			p.seed = (o.seed + int64(i)) & maxSeed
			jobs = append(jobs, p)
		}
	}
	if out.before != stdoutName {
		if err := preflight(out, len(jobs)); err != nil {
			return fail(err)
		}
	}
	return req, jobs, out, nil
}

// preflight checks, before the model loads, every output path of the run:
// no two images share one, and each folder exists (it is created) and takes
// a new file. A run that could not keep its images fails before the work.
func preflight(out outputPattern, total int) error {
	seen := map[string]int{}
	dirs := map[string]bool{}
	for i := 1; i <= total; i++ {
		p := out.path(i, total)
		if j, dup := seen[p]; dup {
			return usagef("-o: images %d and %d would both be written to %s", j, i, p)
		}
		seen[p] = i
		dirs[filepath.Dir(p)] = true
	}
	for dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("output folder %s: %w", dir, unwrapPath(err))
		}
		f, err := os.CreateTemp(dir, ".imggen-check-*")
		if err != nil {
			return fmt.Errorf("output folder %s is not writable: %w", dir, unwrapPath(err))
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

// unwrapPath drops the *os.PathError around err, whose path is not the
// user's (a temporary name) or already said.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readPromptsFlag reads the --prompts file (or stdin for "-").
func (a *app) readPromptsFlag(name string) ([]job, error) {
	var r io.Reader = a.stdin
	display := "stdin"
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, usagef("--prompts: %v", err)
		}
		defer f.Close()
		r, display = f, name
	}
	jobs, err := readPrompts(r)
	if err != nil {
		return nil, usagef("--prompts %s: %v", display, err)
	}
	return jobs, nil
}

// loadCtx loads the model, giving up (exit 130) if ctx is cancelled first:
// loading cannot be interrupted, but it holds nothing that needs cleaning up.
// fromEnv says the path came from $IMGGEN_MODEL, which a failure then names.
func (a *app) loadCtx(ctx context.Context, path string, fromEnv bool, mo model.Options, po pipeline.Options) (*loaded, error) {
	type result struct {
		m   *loaded
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := a.load(path, mo, po)
		ch <- result{m, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.err != nil {
			what := "loading the model"
			if fromEnv {
				what += " (-m from $" + envModel + ")"
			}
			return nil, fmt.Errorf("%s: %w", what, r.err)
		}
		if ctx.Err() != nil {
			r.m.close()
			return nil, ctx.Err()
		}
		return r.m, nil
	}
}

// runner makes the images of one run with a loaded model.
type runner struct {
	*app
	o     *genOptions
	gen   generator
	name  string
	out   outputPattern
	hash  func() string // the model hash, once computed
	vae   string        // the replacement VAE's file name, or ""
	total int
}

// runJob makes, writes and reports one image.
func (r *runner) runJob(ctx context.Context, j job, req pipeline.Request) error {
	o := r.o
	if j.err != nil {
		return j.err
	}
	prefix := ""
	if r.total > 1 {
		prefix = fmt.Sprintf("[%d/%d] ", j.index, r.total)
	}
	if !o.json {
		where := ""
		if j.line > 0 {
			where = fmt.Sprintf("line %d, ", j.line)
		}
		r.warnf(o, "%s%sseed %d\n", prefix, where, j.seed)
	}
	what := "prompt"
	if j.line > 0 {
		what = fmt.Sprintf("line %d: prompt", j.line)
	}
	if w := pipeline.PromptWarning(what, req.Prompt, req.LongPrompts); w != "" {
		r.warnf(o, "%s\n", w)
	}

	path := r.out.path(j.index, r.total)
	// The model hash is read only when needed: it is computed in the
	// background while the first image generates.
	info := func() pipeline.ModelInfo {
		return pipeline.ModelInfo{Name: r.name, Hash: r.hash(), VAE: r.vae, Embeddings: o.embeddings}
	}
	if o.skipExisting {
		if params, err := pngout.ReadParameters(path); err == nil && params == req.InfoText(info()) {
			if o.json {
				r.writeJSON(r.record(j, req, path, 0, true))
			} else {
				fmt.Fprintln(r.stdout, path)
				r.warnf(o, "%skept %s: it already holds this image\n", prefix, path)
			}
			return nil
		}
	}

	start := time.Now()
	bar := r.newProgress(o, prefix)
	img, err := r.gen.Generate(ctx, req, bar.update)
	bar.finish(err == nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if path == stdoutName {
		data, err := pngout.Encode(img, req.InfoText(info()))
		if err == nil {
			_, err = r.stdout.Write(data)
		}
		if err == nil {
			r.warnf(o, "%swrote the image to stdout in %.1fs\n", prefix, time.Since(start).Seconds())
		}
		return err
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	params := req.InfoText(info())
	fileWrites.RLock() // an interrupt waits for the file to be complete
	err = pngout.Write(path, img, params)
	fileWrites.RUnlock()
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if o.json {
		r.writeJSON(r.record(j, req, path, secs, false))
	} else {
		fmt.Fprintln(r.stdout, path)
		r.warnf(o, "%swrote %s in %.1fs\n", prefix, path, secs)
	}
	// A finished image is kept; an interrupt during its write stops here.
	return ctx.Err()
}

// record is the --json line of an image written (or kept) at path.
func (r *runner) record(j job, req pipeline.Request, path string, secs float64, skipped bool) imageRecord {
	o := r.o
	rec := imageRecord{
		Path: path, Prompt: req.Prompt, NegativePrompt: req.NegativePrompt,
		Seed: req.Seed, Steps: req.Steps, Sampler: req.Sampler, Schedule: req.Schedule,
		CFGScale: req.CFGScale, Width: req.Width, Height: req.Height, ClipSkip: req.ClipSkip,
		Spacing: req.TimestepSpacing, Prediction: req.Prediction, LongPrompts: req.LongPrompts, VAETiling: req.VAETiling,
		Precision: req.Precision,
		Eta:       req.Eta, Model: r.name, VAE: r.vae, ModelHash: r.hash(), Line: j.line,
		InitImage: o.initImage, Mask: o.mask, Strength: req.Strength,
		Seconds: math.Round(secs*1000) / 1000, Skipped: skipped, LoRAs: loraRecords(req.LoRAs),
		Embeddings: embeddingRecords(req, o.embeddings),
	}
	if ids := req.SizeIDs(); ids != [6]int{req.Height, req.Width, 0, 0, req.Height, req.Width} {
		rec.OriginalSize = fmt.Sprintf("%dx%d", ids[1], ids[0])
		rec.CropCoords = fmt.Sprintf("%d,%d", ids[2], ids[3])
		rec.TargetSize = fmt.Sprintf("%dx%d", ids[5], ids[4])
	}
	return rec
}

// reportFailure reports a failed image on stderr (always) and as a JSON
// line (with --json).
func (r *runner) reportFailure(j job, err error) {
	if j.line > 0 {
		fmt.Fprintf(r.stderr, "imggen: line %d: %v\n", j.line, err)
	} else {
		fmt.Fprintf(r.stderr, "imggen: %v\n", err)
	}
	if r.o.json {
		r.writeJSON(failureRecord{Path: r.out.path(j.index, r.total), Line: j.line, Prompt: j.prompt, Seed: j.seed, Error: err.Error()})
	}
}

// writeJSON writes v as one line on stdout.
func (a *app) writeJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and numbers always marshal
	}
	a.stdout.Write(append(b, '\n'))
}

// checkMemory refuses, before the work, a run whose estimated peak memory
// is more than the system has available (unless --ignore-memory).
func (a *app) checkMemory(o *genOptions, req pipeline.Request) error {
	avail := int64(0)
	if a.memAvailable != nil {
		avail = a.memAvailable()
	}
	need := pipeline.EstimateMemory(model.Bytes(o.model), req.Width, req.Height)
	if avail <= 0 || need <= avail {
		return nil
	}
	gb := func(n int64) float64 { return float64(n) / (1 << 30) }
	if o.ignoreMemory {
		a.warnf(o, "warning: %dx%d needs about %.1f GiB, %.1f GiB are available (--ignore-memory)\n", req.Width, req.Height, gb(need), gb(avail))
		return nil
	}
	return usagef("%dx%d needs about %.1f GiB of memory and %.1f GiB are available; use a smaller size, or --ignore-memory to run anyway",
		req.Width, req.Height, gb(need), gb(avail))
}

// inShard reports whether job j is this process's under --shard I/N:
// image numbers (from 1) n with n-1 ≡ I (mod N). Seeds and output names
// are those of the whole run, so N shards make the files of one run.
func (o *genOptions) inShard(j job) bool { return (j.index-1)%o.shardN == o.shardI }

// nearSubcommand returns the subcommand that a one-word prompt is a typo
// of, or "": one edit away from a name of up to 5 letters, two from a
// longer one (so "helpp" and "tokenise" are caught, "hello" is a prompt).
func nearSubcommand(cmd *cobra.Command, word string) string {
	if strings.ContainsAny(word, " \t") || len(word) < 3 {
		return ""
	}
	for _, c := range cmd.Commands() {
		for _, name := range append([]string{c.Name()}, c.Aliases...) {
			limit := 1
			if len(name) > 5 {
				limit = 2
			}
			if name != word && editDistance(strings.ToLower(word), name) <= limit {
				return name
			}
		}
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// randomSeed draws a seed in [0, 2^32) from the OS generator.
func randomSeed() int64 {
	var b [4]byte
	rand.Read(b[:]) // never fails on supported platforms
	return int64(binary.LittleEndian.Uint32(b[:]))
}

// startHash computes the model hash in the background (it reads the whole
// checkpoint, seconds for 4 GB) while the first image generates; the
// returned function waits for it. A failure costs only the hash.
func (a *app) startHash(o *genOptions, hash func() (string, error)) func() string {
	type result struct {
		h   string
		err error
	}
	ch := make(chan result, 1)
	go func() {
		h, err := hash()
		ch <- result{h, err}
	}()
	// Waited for and reported on the caller's goroutine, so stderr is only
	// written from one goroutine.
	return sync.OnceValue(func() string {
		r := <-ch
		if r.err != nil {
			a.warnf(o, "warning: model hash: %v\n", r.err)
		}
		return r.h
	})
}

// sizeConditioning parses --original-size, --crop-coords and --target-size
// into req.
func (o *genOptions) sizeConditioning(req *pipeline.Request) error {
	for _, f := range []struct {
		flag, value, sep string
		a, b             *int
	}{
		{"--original-size", o.originalSize, "x", &req.OriginalWidth, &req.OriginalHeight},
		{"--crop-coords", o.cropCoords, ",", &req.CropTop, &req.CropLeft},
		{"--target-size", o.targetSize, "x", &req.TargetWidth, &req.TargetHeight},
	} {
		if f.value == "" {
			continue
		}
		a, b, ok := strings.Cut(f.value, f.sep)
		x, err1 := strconv.Atoi(a)
		y, err2 := strconv.Atoi(b)
		what := "WxH, e.g. 1024x1024"
		if f.sep == "," {
			what = "TOP,LEFT, e.g. 0,0"
		}
		if !ok || err1 != nil || err2 != nil || x < 0 || y < 0 || (f.sep == "x" && (x == 0 || y == 0)) {
			return usagef("%s must be %s, got %q", f.flag, what, f.value)
		}
		*f.a, *f.b = x, y
	}
	return nil
}

// nonDefaultPrecision is the request's precision: empty for the default,
// as a library caller leaves it.
func nonDefaultPrecision(p string) string {
	if p == "fp32" {
		return ""
	}
	return p
}
