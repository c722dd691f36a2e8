package main

import (
	"context"
	"fmt"
	"image"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/pipeline"
)

// generator is what the CLI needs from a loaded pipeline; tests substitute
// a fake so CLI behaviour is checked without model weights.
type generator interface {
	Generate(ctx context.Context, req pipeline.Request, progress func(step, total int)) (*image.RGBA, error)
	Defaults() pipeline.ModelDefaults
}

// loaded is a model ready to generate.
type loaded struct {
	generator
	name  string                 // A1111's "Model:" value
	hash  func() (string, error) // A1111's "Model hash:"; reads the whole file
	close func() error
}

// app holds the process environment of one run.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	load           func(path string, mo model.Options, po pipeline.Options) (*loaded, error)
	memAvailable   func() int64 // bytes the system can give, 0 if unknown
	progress       bool         // draw progress bars (stderr is a terminal)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{
		stdin: stdin, stdout: stdout, stderr: stderr,
		getenv:       os.Getenv,
		load:         loadPipeline,
		memAvailable: memAvailable,
		progress:     isTerminal(stderr),
	}
}

func loadPipeline(path string, mo model.Options, po pipeline.Options) (*loaded, error) {
	m, err := model.Load(path, mo)
	if err != nil {
		return nil, err
	}
	p, err := pipeline.New(m, po)
	if err != nil {
		m.Close()
		return nil, err
	}
	return &loaded{generator: p, name: m.Name, hash: m.Hash, close: m.Close}, nil
}

// run executes the command line args and returns the exit code. Data
// lost on stdout (a full disk, a closed pipe) fails the run.
func (a *app) run(ctx context.Context, args []string) int {
	out := &stdoutWriter{w: a.stdout}
	a.stdout = out
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil && out.err != nil {
		err = out.err
	}
	return exitCode(err, a.stderr)
}

// stdoutWriter remembers the first failed write to standard output.
type stdoutWriter struct {
	w   io.Writer
	err error
}

func (s *stdoutWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	if err != nil {
		s.err = fmt.Errorf("writing to standard output: %w", err)
	}
	return n, s.err
}

// stdoutFailed reports the first failed write to stdout, if any.
func (a *app) stdoutFailed() error {
	if s, ok := a.stdout.(*stdoutWriter); ok {
		return s.err
	}
	return nil
}

const rootLong = `imggen generates images from text prompts (and from an init image) with a Stable Diffusion 1.x
or 2.x model (a single .safetensors checkpoint such as v1-5-pruned-emaonly.safetensors, or
a diffusers folder), entirely in Go on the CPU.

The model comes from -m/--model or the IMGGEN_MODEL environment variable;
without either, imggen uses its built-in model ("builtin"): a small model the
project trained on a procedural world of skies, seas, deserts, fields and a
few coloured objects, which draws 128x128 pictures in about two seconds. Get
SD 1.5 from https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5
(file v1-5-pruned-emaonly.safetensors).

Each image is written as an 8-bit RGB PNG whose "parameters" text chunk holds
the prompt and settings in AUTOMATIC1111's format. Written paths go to stdout,
one per line (or one JSON object per image with --json); messages, the seed
and progress go to stderr.

Output names (-o): a printf verb such as %04d is replaced by the image's
number in the run, counting from 1; without a verb and with more than one
image, -0001, -0002, ... is inserted before the extension. The default is
imggen-<seed>.png. Missing parent directories are created; existing files are
overwritten.

Image-to-image (-i FILE, PNG or JPEG): the image is encoded, noised to
--strength (0.75: the last 75% of the steps run) and denoised with the
prompt; -W/-H default to its size, and a different size needs --resize.
Inpainting adds --mask FILE (same size; white is repainted, black kept).

Prompt files (--prompts FILE, or - for stdin): one prompt per line; empty
lines and lines starting with '#' are skipped. A failing line is reported with
its line number and the others still run.

Exit codes: 0 success; 1 failure (model load, I/O, generation, or any prompt
of a batch failing); 2 usage error (bad flag or value, reported before the
model loads); 130 interrupted by Ctrl-C or SIGTERM (no partial file is left).`

const rootExample = `  imggen "sunset, oil painting" -o out.png -m v1-5-pruned-emaonly.safetensors --seed 42
  imggen "a castle" -n "blurry" --steps 25 --sampler dpmpp_2m --schedule karras --cfg-scale 6 -W 640 -H 448 -o castle.png
  imggen --prompts prompts.txt -o 'out/%04d.png' --seed 100
  cat prompts.txt | imggen --prompts - --json -o 'out/%04d.png'
  imggen "a red fox" --batch-count 4 -o fox.png          # fox-0001.png .. fox-0004.png, seeds s..s+3
  imggen "a watercolor landscape" -i photo.png --strength 0.6 -o painted.png
  imggen "a bright yellow flower" -i photo.png --mask mask.png --strength 1 -o flower.png
  imggen "a castle <lora:ink-style:0.7>" --lora-dir ~/loras -o castle.png
  imggen "a fox" --lora lcm-lora-sdv1-5.safetensors --sampler lcm --steps 4 --cfg-scale 1
  imggen "a portrait of <my-cat>" --embedding '<my-cat>=my-cat.safetensors'
  imggen tokenize "sunset, oil painting"
  imggen inspect v1-5-pruned-emaonly.safetensors`

func (a *app) rootCommand() *cobra.Command {
	o := &genOptions{}
	root := &cobra.Command{
		Use:     "imggen [flags] PROMPT",
		Short:   "Text-to-image with Stable Diffusion 1.x, 2.x and SDXL, in pure Go",
		Long:    rootLong,
		Example: rootExample,
		Version: versionString(),
		Args:    usageArgs(cobra.ArbitraryArgs),
		// Errors and usage are printed by exitCode, once, in one format.
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.generate(cmd, o, args)
		},
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(flagError)

	f := root.Flags()
	f.SortFlags = false
	f.StringVarP(&o.output, "output", "o", "", "output PNG path; may hold one printf verb like %04d for the image number (from 1) (default \"imggen-<seed>.png\")")
	f.StringVarP(&o.model, "model", "m", "", `model: .safetensors checkpoint, diffusers folder, or "builtin" (default $IMGGEN_MODEL, else builtin)`)
	f.StringVar(&o.vae, "vae", "", "replace the model's VAE with this .safetensors file (diffusers or original key names), e.g. a fine-tuned one")
	f.StringVarP(&o.prompt, "prompt", "p", "", "the prompt (instead of the argument; a prompt that starts with - or names a subcommand needs no --)")
	f.StringVarP(&o.negative, "negative-prompt", "n", "", "negative prompt (SDXL: without -n the unconditional pass sees zeros, with -n \"\" the encoding of \"\", as diffusers)")
	f.IntVar(&o.steps, "steps", pipeline.DefaultSteps, "sampling steps")
	f.StringVar(&o.sampler, "sampler", pipeline.DefaultSampler, "sampler: "+strings.Join(pipeline.Samplers(), ", "))
	f.StringVar(&o.schedule, "schedule", "", "timestep/sigma spacing: "+strings.Join(pipeline.Schedules, ", ")+"; karras works with euler, dpmpp_2m, lms (default karras for dpmpp_2m, else default)")
	f.Float64Var(&o.cfgScale, "cfg-scale", pipeline.DefaultCFGScale, "classifier-free guidance scale (<= 1 disables guidance)")
	f.IntVarP(&o.width, "width", "W", 0, "image width, a multiple of 8 (default: the model's native size, 512 for SD 1.5)")
	f.IntVarP(&o.height, "height", "H", 0, "image height, a multiple of 8 (default: the model's native size, 512 for SD 1.5)")
	f.Int64Var(&o.seed, "seed", -1, "random seed, 0 to 4294967295; -1 picks one at random (printed and stored in the PNG)")
	f.IntVar(&o.batchCount, "batch-count", 1, "images per prompt; image i uses seed+i")
	f.StringVar(&o.shard, "shard", "", "I/N: make only images n (from 1) with n-1 ≡ I mod N, with the whole run's seeds and names (split a run over N processes or machines)")
	f.StringVar(&o.expectHash, "expect-model-hash", "", "warn when the model's hash is not this one (set by reproduce)")
	if err := f.MarkHidden("expect-model-hash"); err != nil {
		panic(err) // the flag is defined just above
	}
	f.BoolVar(&o.ignoreMemory, "ignore-memory", false, "run even when the estimated memory is more than the system has available")
	f.BoolVar(&o.skipExisting, "skip-existing", false, "keep an image whose file already holds it (same parameters), so a re-run resumes")
	f.StringVar(&o.prompts, "prompts", "", "read prompts from FILE, one per line (- for stdin)")
	f.IntVar(&o.clipSkip, "clip-skip", 1, "use the CLIP layer this far from the end (2 = penultimate)")
	f.StringVar(&o.spacing, "timestep-spacing", "", "override the model's timestep spacing: leading, linspace or trailing")
	f.StringVar(&o.prediction, "prediction", "", "override the model's prediction type: eps or v")
	f.StringVar(&o.longPrompts, "long-prompts", "truncate", "prompts over 75 tokens: truncate (as diffusers, with a warning) or chunk (77-token chunks, as AUTOMATIC1111; BREAK starts a new chunk)")
	f.Float64Var(&o.eta, "eta", 0, "DDIM eta, 0 to 1 (0 = deterministic); ddim only")
	f.StringVarP(&o.initImage, "init-image", "i", "", "image-to-image: start from this PNG or JPEG (sets the default -W/-H)")
	f.Float64Var(&o.strength, "strength", 0.75, "denoising strength for -i, greater than 0 and at most 1 (1 repaints everything)")
	f.StringVar(&o.mask, "mask", "", "inpainting: grey mask the size of -i; white (>= 50%) is repainted, black kept")
	f.BoolVar(&o.resize, "resize", false, "scale and centre-crop -i (and --mask) to -W x -H instead of requiring the same size")
	f.StringVar(&o.originalSize, "original-size", "", "SDXL size conditioning: the WxH the picture claims to come from (default: the output size)")
	f.StringVar(&o.cropCoords, "crop-coords", "", "SDXL size conditioning: TOP,LEFT of the claimed crop (default 0,0)")
	f.StringVar(&o.targetSize, "target-size", "", "SDXL size conditioning: the WxH the picture claims to be (default: the output size)")
	f.StringArrayVar(&o.loras, "lora", nil, "apply the LoRA (or LoCon) FILE.safetensors at strength SCALE (default 1) to every image; repeatable, LoRAs add up")
	f.StringVar(&o.loraDir, "lora-dir", "", "where <lora:NAME:SCALE> tags in prompts find NAME.safetensors (default $"+envLoRADir+")")
	f.StringArrayVar(&o.embeddingFlags, "embedding", nil, "textual-inversion embedding FILE.safetensors, called in prompts by its base name, or TOKEN=FILE by TOKEN (exact, case-sensitive); repeatable")
	f.StringVar(&o.embeddingsDir, "embeddings-dir", "", "load every .safetensors embedding in DIR, each called by its base name")
	f.StringVar(&o.vaeTiling, "vae-tiling", "auto", "decode in overlapping tiles: auto (above 1024x1024), on (bounded memory at any size, slightly different pixels) or off (whole, as diffusers)")
	f.StringVar(&o.precision, "precision", "fp32", "arithmetic of the U-Net and VAE decoder: fp32 (the reference's pixels), bf16 (bfloat16 operands, float32 sums: faster on a CPU with AVX-512 BF16, slightly different pixels) or fp32-winograd (3x3 convolutions by Winograd's F(2x2,3x3): fewer multiply-adds, different last bits)")
	f.IntVar(&o.threads, "threads", runtime.NumCPU(), "compute threads (results are identical for any value)")

	pf := root.PersistentFlags()
	pf.BoolVar(&o.json, "json", false, "write one JSON object per result to stdout")
	pf.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bars or other non-error messages")
	f.StringVar(&o.progressFlag, "progress", progressAuto, "auto (a bar on a terminal, one line per step otherwise), bar, plain or none")

	root.AddCommand(a.tokenizeCommand(o), a.inspectCommand(o), a.benchCommand(o), a.compareCommand(o),
		a.infoCommand(o), a.reproduceCommand(), versionCommand())
	return root
}

// argsN requires between lo and hi arguments (hi < 0: no upper bound),
// saying what they are when the count is wrong: a usage error.
func argsN(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || (hi >= 0 && len(args) > hi) {
			return usagef("%s takes %s, got %d argument(s); see imggen %s --help", cmd.Name(), what, len(args), cmd.Name())
		}
		return nil
	}
}

// flagError rewrites pflag's errors for numbers ("strconv.ParseInt:
// parsing ...") into plain words; all flag errors are usage errors.
func flagError(_ *cobra.Command, err error) error {
	msg := err.Error()
	var value, flag string
	if _, scanErr := fmt.Sscanf(msg, "invalid argument %q for %q flag:", &value, &flag); scanErr == nil {
		kind := ""
		switch {
		case strings.Contains(msg, "strconv.ParseInt"), strings.Contains(msg, "strconv.ParseUint"):
			kind = "a whole number"
		case strings.Contains(msg, "strconv.ParseFloat"):
			kind = "a number"
		case strings.Contains(msg, "strconv.ParseBool"):
			kind = "true or false"
		}
		if kind != "" {
			return usagef("%s must be %s, got %q", flag, kind, value)
		}
	}
	return usageError{err}
}

// usageArgs makes argument-count errors usage errors (exit code 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// warnf writes a non-error message to stderr unless --quiet.
func (a *app) warnf(o *genOptions, format string, args ...any) {
	if !o.quiet {
		fmt.Fprintf(a.stderr, format, args...)
	}
}
