// Command mkcheckpoint writes a deterministic random-weight checkpoint with
// Stable Diffusion 1.5's exact single-file (LDM/CompVis) key names and
// shapes, so the engine can be benchmarked on real sizes without the real
// model (make bench uses it). The values are random: the checkpoint loads
// and runs like v1-5-pruned-emaonly.safetensors, but its images are noise.
//
// Usage:
//
//	mkcheckpoint -o bench/sd15-random-f16.safetensors [--dtype f16|f32] [--seed N]
//
// The same flags always give the same bytes. The file (2.13 GB in f16,
// 4.27 GB in f32) is written in a streaming way, to a temporary file that
// is renamed into place when complete; free disk space is checked first.
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
	seed := fs.Uint64("seed", 0, "seed of the random values")
	posIDs := fs.Bool("position-ids", true, "include the text encoder's position_ids buffer, as real SD 1.5 files do")
	quiet := fs.Bool("q", false, "no messages except errors")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mkcheckpoint -o PATH [--dtype f16|f32] [--seed N]\n\n"+
			"Writes a random-weight checkpoint shaped exactly like Stable Diffusion 1.5\n"+
			"(v1-5-pruned-emaonly.safetensors) for benchmarking; its images are noise.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *out == "" || fs.NArg() != 0 || (*dtype != "f16" && *dtype != "f32") {
		fs.Usage()
		return 2
	}
	s := bench.SD15(*dtype, *seed)
	s.PositionIDs = *posIDs
	start := time.Now()
	if !*quiet {
		fmt.Fprintf(stderr, "mkcheckpoint: writing %s (SD 1.5 shapes, %s, seed %d)\n", *out, *dtype, *seed)
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
		fmt.Fprintf(stderr, "mkcheckpoint: wrote %s in %.1fs: %d tensors, %d bytes; parameters: unet %d, vae %d, text encoder %d, total %d\n",
			sum.Path, time.Since(start).Seconds(), sum.Tensors, sum.Bytes,
			p[model.CompUNet], p[model.CompVAE], p[model.CompText], p[model.CompUNet]+p[model.CompVAE]+p[model.CompText])
	}
	return 0
}
