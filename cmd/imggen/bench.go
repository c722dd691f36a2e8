package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/bench"
	"github.com/imggen/imggen/internal/lora"
	"github.com/imggen/imggen/internal/pipeline"
)

// benchOptions are the flag values of imggen bench.
type benchOptions struct {
	model             string
	width, height     int
	steps, threads    int
	cfgScale          float64
	sampler, negative string
	seed              int64
	cpuProfile        string
	loras             []string
	loraMerge         bool
	precision         string
}

const benchLong = `bench loads a model and times each stage of one text-to-image generation:
loading (file to ready networks), the text encoder (prompt and negative
prompt together when guidance is on), every U-Net evaluation (on a batch of 2
with --cfg-scale above 1), and the VAE decode. For each stage it reports the
wall time, the effective GFLOPS from an analytic count of the multiply-adds
(convolutions, linear layers and attention products; a multiply-add is 2
FLOPs), and the resident memory (current and peak, mapped weight files
included). No image is written.

The numbers are meant to compare builds and settings of this engine on one
machine. For Stable Diffusion 1.5's real sizes without the real weights,
make a random-weight checkpoint with the same key names and shapes:
    go run ./cmd/mkcheckpoint -o bench/sd15-random-f16.safetensors
or run 'make bench', which makes it and benchmarks 256x256 and 512x512.`

func (a *app) benchCommand(o *genOptions) *cobra.Command {
	b := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench -m MODEL",
		Short: "Time each stage of one generation: load, text encoder, U-Net calls, VAE decode",
		Long:  benchLong,
		Example: `  imggen bench -m v1-5-pruned-emaonly.safetensors
  imggen bench -m bench/sd15-random-f16.safetensors -W 256 -H 256 --steps 1 --threads 2
  imggen bench -m ./stable-diffusion-v1-5 --json`,
		Args: argsN(0, 0, "no arguments (the model is -m)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.bench(cmd, o, b)
		},
	}
	d := bench.DefaultOptions()
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVarP(&b.model, "model", "m", "", "model: .safetensors checkpoint or diffusers folder (default $IMGGEN_MODEL)")
	f.IntVarP(&b.width, "width", "W", d.Width, "image width, a multiple of 8")
	f.IntVarP(&b.height, "height", "H", d.Height, "image height, a multiple of 8")
	f.IntVar(&b.steps, "steps", d.Steps, "sampling steps")
	f.IntVar(&b.threads, "threads", runtime.NumCPU(), "compute threads")
	f.Float64Var(&b.cfgScale, "cfg-scale", d.CFGScale, "classifier-free guidance scale (> 1 runs the U-Net on a batch of 2)")
	f.StringVar(&b.sampler, "sampler", d.Sampler, "sampler: "+strings.Join(pipeline.Samplers(), ", "))
	f.StringVarP(&b.negative, "negative-prompt", "n", "", "negative prompt (the cost does not depend on the text)")
	f.Int64Var(&b.seed, "seed", 0, "seed of the initial noise")
	f.StringArrayVar(&b.loras, "lora", nil, "apply the LoRA FILE[:SCALE] (repeatable; the FLOPs counted are the model's own)")
	f.BoolVar(&b.loraMerge, "lora-merge", false, "merge the LoRAs into float32 copies of the matrices they touch instead of running them as side paths")
	f.StringVar(&b.precision, "precision", "fp32", "arithmetic of the U-Net and VAE decoder: fp32, bf16 (needs AVX-512 BF16) or fp32-winograd")
	f.StringVar(&b.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file (read it with: go tool pprof FILE)")
	return cmd
}

func (a *app) bench(cmd *cobra.Command, o *genOptions, b *benchOptions) error {
	opts := bench.DefaultOptions()
	opts.Width, opts.Height, opts.Steps, opts.Threads = b.width, b.height, b.steps, b.threads
	opts.CFGScale, opts.Sampler, opts.Negative, opts.Seed = b.cfgScale, b.sampler, b.negative, b.seed
	opts.MergeLoRAs, opts.Precision = b.loraMerge, b.precision
	if err := opts.Validate(); err != nil {
		return usageError{err}
	}
	if b.precision == "bf16" && !pipeline.NativeBF16() {
		return usagef("--precision bf16 needs a CPU with AVX-512 BF16, which this one lacks")
	}
	for _, v := range b.loras {
		path, scale, err := parseLoRAFlag(v)
		if err != nil {
			return err
		}
		f, err := lora.Open(path)
		if err != nil {
			return fmt.Errorf("--lora: %w", err)
		}
		opts.LoRAs = append(opts.LoRAs, pipeline.LoRA{File: f, Scale: scale})
	}
	if b.model == "" {
		b.model = a.getenv(envModel)
	}
	if b.model == "" {
		return usageError{errors.New(benchModelHelp)}
	}
	if !o.quiet {
		opts.Log = func(format string, args ...any) {
			fmt.Fprintf(a.stderr, "bench: "+format+"\n", args...)
		}
	}
	a.warnf(o, "bench: loading %s\n", b.model)
	if b.cpuProfile != "" {
		f, err := os.Create(b.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	// Run in the background so that Ctrl-C stops at once even in the middle
	// of a long stage (nothing needs cleaning up).
	type result struct {
		r   *bench.Report
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := bench.Run(cmd.Context(), b.model, opts)
		ch <- result{r, err}
	}()
	var res result
	select {
	case <-cmd.Context().Done():
		return cmd.Context().Err()
	case res = <-ch:
	}
	if res.err != nil {
		return res.err
	}
	if o.json {
		a.writeJSON(res.r)
	} else {
		fmt.Fprint(a.stdout, res.r.Table())
	}
	if !res.r.Finite {
		return errors.New("non-finite values in the U-Net output or the decoded image")
	}
	return nil
}

// benchModelHelp answers "which model does bench measure".
const benchModelHelp = `no model given.
bench measures a Stable Diffusion checkpoint. Without a real one, make a
random-weight checkpoint with SD 1.5's exact shapes (2.1 GB):
    go run ./cmd/mkcheckpoint -o bench/sd15-random-f16.safetensors --dtype f16
    imggen bench -m bench/sd15-random-f16.safetensors
or measure the built-in model: imggen bench -m builtin`
