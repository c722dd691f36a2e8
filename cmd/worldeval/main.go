// Command worldeval measures imggen's built-in model on the procedural
// world with the judge: prompt adherence on held-out prompts at several
// guidance scales, diversity across seeds, realism (a Fréchet distance to
// rendered scenes) and a contact sheet. It prints a markdown report and
// writes report.md, report.json and contact.png into -out.
//
//	go run ./cmd/worldeval -out eval
//	go run ./cmd/worldeval -quick -out /tmp/smoke
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/worldeval"
	"github.com/imggen/imggen/weights"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "worldeval:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	d := worldeval.DefaultConfig()
	fs := flag.NewFlagSet("worldeval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", d.N, "held-out prompts for adherence and realism (one image each per cfg)")
	seeds := fs.Int("seeds", d.Seeds, "seeds per diversity prompt")
	divPrompts := fs.Int("diversity-prompts", d.DiversityPrompts, "prompts for diversity (the first of the adherence set)")
	cfgList := fs.String("cfg", "1,3,7.5", "comma-separated guidance scales")
	defCFG := fs.Float64("default-cfg", worldeval.DefaultCFG, "guidance scale of the realism figure and the contact sheet")
	steps := fs.Int("steps", pipeline.DefaultSteps, "sampling steps (imggen's default)")
	samplerName := fs.String("sampler", pipeline.DefaultSampler, "sampler (imggen's default; dpmpp_2m uses the karras schedule, as imggen does)")
	rows := fs.Int("rows", d.ContactRows, "contact sheet rows (prompts)")
	cols := fs.Int("cols", d.ContactCols, "contact sheet columns (seeds)")
	promptSeed := fs.Int64("prompt-seed", d.PromptSeed, "seed of world.EvalPrompts and of the rendered reference scenes")
	out := fs.String("out", "", "write report.md, report.json and contact.png into this folder")
	threads := fs.Int("threads", 0, "compute threads per worker (default: CPUs / workers; results are identical for any value)")
	workers := fs.Int("workers", runtime.NumCPU(), "images made at once, each by its own copy of the model (results are identical for any value)")
	quick := fs.Bool("quick", false, "smoke run: -n 6 -seeds 2 -diversity-prompts 2 -rows 2 -cols 2 unless given")
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		for name, v := range map[string]*int{"n": n, "seeds": seeds, "diversity-prompts": divPrompts, "rows": rows, "cols": cols} {
			if !set[name] {
				*v = map[string]int{"n": 6, "seeds": 2, "diversity-prompts": 2, "rows": 2, "cols": 2}[name]
			}
		}
	}
	cfgs, err := parseCFGs(*cfgList)
	if err != nil {
		return err
	}
	if *workers < 1 {
		return fmt.Errorf("-workers must be at least 1, got %d", *workers)
	}
	if *threads == 0 {
		*threads = max(1, runtime.NumCPU() / *workers)
	}
	if *threads < 1 {
		return fmt.Errorf("-threads must be at least 1, got %d", *threads)
	}
	if *divPrompts < 1 || *n < 2 || *seeds < 2 || *rows < 1 || *cols < 1 {
		return fmt.Errorf("need -n >= 2, -seeds >= 2, -diversity-prompts >= 1, -rows >= 1, -cols >= 1")
	}
	nn.SetThreads(*threads)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	// One pipeline serves every worker (Generate may be called concurrently).
	m, err := model.LoadFS(weights.FS(), weights.Name)
	if err != nil {
		return err
	}
	p, err := pipeline.New(m, pipeline.Options{}) // a batch keeps its weights mapped
	if err != nil {
		return err
	}
	if !set["sampler"] {
		*samplerName = "" // the model's own sampler, if it has one
	}
	base, err := worldeval.BaseRequest(p, *samplerName, *steps)
	if err != nil {
		return err
	}
	gen := worldeval.PipelineGenerator(ctx, p, base)
	c := worldeval.Config{
		N: *n, PromptSeed: *promptSeed, CFGs: cfgs, DefaultCFG: *defCFG,
		DiversityPrompts: *divPrompts, Seeds: *seeds, ContactRows: *rows, ContactCols: *cols,
		Workers: *workers,
		Settings: map[string]string{
			"model":   weights.Name + " (weights/builtin)",
			"sampler": base.Sampler + " (" + base.Schedule + " schedule)",
			"steps":   strconv.Itoa(base.Steps),
			"size":    fmt.Sprintf("%dx%d", base.Width, base.Height),
		},
	}
	if !*quiet {
		c.Progress = stderr
		fmt.Fprintf(stderr, "worldeval: %d images, %s %d steps, %d workers x %d threads\n", c.Images(), base.Sampler, base.Steps, *workers, *threads)
	}
	res, err := worldeval.Run(gen, c)
	if err != nil {
		return err
	}
	if err := res.Markdown(stdout); err != nil {
		return err
	}
	if *out != "" {
		if err := res.WriteDir(*out); err != nil {
			return err
		}
	}
	if !*quiet {
		fmt.Fprintf(stderr, "worldeval: done in %s\n", time.Since(start).Round(time.Second))
	}
	return nil
}

func parseCFGs(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 0 || v > 100 {
			return nil, fmt.Errorf("-cfg: bad guidance scale %q (want numbers in [0, 100])", f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-cfg: no guidance scale in %q", s)
	}
	return out, nil
}
