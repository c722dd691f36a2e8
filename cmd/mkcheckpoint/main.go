// Command mkcheckpoint writes a deterministic random-weight checkpoint with
// Stable Diffusion 1.5's (or SDXL base's) exact single-file key names and
// shapes, so the engine can be benchmarked on real sizes without the real
// model (make bench uses it). The values are random: the checkpoint loads
// and runs like v1-5-pruned-emaonly.safetensors (sd_xl_base_1.0.safetensors),
// but its images are noise.
//
// Usage:
//
//	mkcheckpoint -o bench/sd15-random-f16.safetensors [--arch sd15|sdxl] [--dtype f16|f32] [--seed N]
//	mkcheckpoint -o bench/lora-r32.safetensors --lora-rank 32 [--arch sd15|sdxl]
//
// With --lora-rank it writes a random LoRA (kohya names, no alpha) on every
// attention and feed-forward layer of the architecture's U-Net instead, for
// measuring what a LoRA costs.
//
// The same flags always give the same bytes. The file (SD 1.5: 2.13 GB in
// f16, 4.27 GB in f32; SDXL: 6.94 GB in f16) is written in a streaming way,
// to a temporary file that is renamed into place when complete; free disk
// space is checked first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/imggen/imggen/internal/bench"
	"github.com/imggen/imggen/internal/model"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkcheckpoint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output `path` (.safetensors); required")
	dtype := fs.String("dtype", "f16", "weight storage type: f16 or f32")
	arch := fs.String("arch", "sd15", "architecture: sd15 (Stable Diffusion 1.5) or sdxl (SDXL base 1.0)")
	seed := fs.Uint64("seed", 0, "seed of the random values")
	posIDs := fs.Bool("position-ids", true, "include the text encoder's position_ids buffer, as real SD 1.5 files do")
	quiet := fs.Bool("q", false, "no messages except errors")
	loraRank := fs.Int("lora-rank", 0, "write instead a random kohya LoRA of this rank on every attention and feed-forward layer of the --arch U-Net")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mkcheckpoint -o PATH [--arch sd15|sdxl] [--dtype f16|f32] [--seed N]\n\n"+
			"Writes a random-weight checkpoint shaped exactly like Stable Diffusion 1.5\n"+
			"(v1-5-pruned-emaonly.safetensors) or SDXL base (sd_xl_base_1.0.safetensors)\n"+
			"for benchmarking; its images are noise.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" || fs.NArg() != 0 || (*dtype != "f16" && *dtype != "f32") || (*arch != "sd15" && *arch != "sdxl") {
		fs.Usage()
		return 2
	}
	s, name := bench.SD15(*dtype, *seed), "SD 1.5"
	if *arch == "sdxl" {
		s, name = bench.SDXL(*dtype, *seed), "SDXL base"
	}
	s.PositionIDs = *posIDs
	start := time.Now()
	if *loraRank != 0 {
		sum, err := bench.WriteLoRA(ctx, *out, s, *loraRank)
		if err != nil {
			fmt.Fprintf(stderr, "mkcheckpoint: %v\n", err)
			return 1
		}
		if !*quiet {
			fmt.Fprintf(stderr, "mkcheckpoint: wrote %s in %.1fs: a rank-%d LoRA for %s, %d tensors, %d bytes\n",
				sum.Path, time.Since(start).Seconds(), *loraRank, name, sum.Tensors, sum.Bytes)
		}
		return 0
	}
	if !*quiet {
		fmt.Fprintf(stderr, "mkcheckpoint: writing %s (%s shapes, %s, seed %d)\n", *out, name, *dtype, *seed)
	}
	sum, err := bench.Write(ctx, *out, s)
	if err != nil {
		fmt.Fprintf(stderr, "mkcheckpoint: %v\n", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	if !*quiet {
		p := sum.Params
		total := p[model.CompUNet] + p[model.CompVAE] + p[model.CompText] + p[model.CompText2]
		fmt.Fprintf(stderr, "mkcheckpoint: wrote %s in %.1fs: %d tensors, %d bytes; parameters: unet %d, vae %d, text encoder %d",
			sum.Path, time.Since(start).Seconds(), sum.Tensors, sum.Bytes, p[model.CompUNet], p[model.CompVAE], p[model.CompText])
		if n, ok := p[model.CompText2]; ok {
			fmt.Fprintf(stderr, ", text encoder 2 %d", n)
		}
		fmt.Fprintf(stderr, ", total %d\n", total)
	}
	return 0
}
