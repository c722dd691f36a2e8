package bench

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// Options choose a benchmark run.
type Options struct {
	Width, Height int     // image size in pixels, multiples of 8
	Steps         int     // sampler steps
	CFGScale      float64 // > 1 evaluates the U-Net on a batch of 2
	Sampler       string  // one of sampler.Names()
	Threads       int     // compute threads
	Seed          int64
	Prompt        string
	Negative      string
	LoRAs         []pipeline.LoRA // applied as in a generation (low-rank side paths)
	MergeLoRAs    bool            // merge them into float32 copies instead (pipeline.Options.MergeLoRAs)
	Precision     string          // pipeline.Request.Precision: "" or "fp32", or "bf16"
	// CeilingTime is how long the kernel ceiling is measured before the
	// run (0: not measured).
	CeilingTime time.Duration
	// Log, when set, is told about each finished stage and U-Net call (a run
	// on SD 1.5's shapes can take many minutes).
	Log func(format string, args ...any)
}

// DefaultOptions is a 512x512, 2-step Euler run with guidance 7.5 on every CPU.
func DefaultOptions() Options {
	return Options{Width: 512, Height: 512, Steps: 2, CFGScale: 7.5, Sampler: "euler",
		Threads: runtime.NumCPU(), Prompt: "a photograph of an astronaut riding a horse", CeilingTime: time.Second}
}

func (o Options) request() pipeline.Request {
	return pipeline.Request{Prompt: o.Prompt, NegativePrompt: o.Negative, Width: o.Width, Height: o.Height,
		Steps: o.Steps, CFGScale: o.CFGScale, Sampler: o.Sampler, Schedule: "default", Seed: o.Seed, ClipSkip: 1,
		LoRAs: o.LoRAs, Precision: o.Precision}
}

// Validate reports a bad option (sizes, steps, sampler, threads).
func (o Options) Validate() error {
	if o.Threads < 1 {
		return fmt.Errorf("threads must be at least 1, got %d", o.Threads)
	}
	return o.request().Validate()
}

// Stage is the measurement of one stage of the run.
type Stage struct {
	Name    string  `json:"name"`
	Calls   int     `json:"calls"`
	Seconds float64 `json:"seconds"`          // wall time of all calls
	GFLOP   float64 `json:"gflop,omitempty"`  // analytic work of all calls (10^9 FLOPs)
	GFLOPS  float64 `json:"gflops,omitempty"` // GFLOP / Seconds
	RSS     int64   `json:"rss_bytes"`        // resident set size after the stage
	PeakRSS int64   `json:"peak_rss_bytes"`   // peak resident set size up to the end of the stage
	// CPU is the process's CPU time (user and system, all threads) over
	// the stage; CPU / (Seconds · threads) is how busy the threads were.
	// Zero where the system does not tell.
	CPU float64 `json:"cpu_seconds,omitempty"`
}

// Call is one U-Net evaluation (on the whole batch).
type Call struct {
	Index    int     `json:"index"` // sampler call, from 0
	Timestep float64 `json:"timestep"`
	Seconds  float64 `json:"seconds"`
	GFLOPS   float64 `json:"gflops"`
	CPU      float64 `json:"cpu_seconds,omitempty"` // process CPU time since the sampler's previous step
}

// Report is the result of a run.
type Report struct {
	Model        string  `json:"model"`
	Path         string  `json:"path"`
	Layout       string  `json:"layout"`
	DType        string  `json:"dtype"` // storage type of the U-Net weights
	ModelBytes   int64   `json:"model_bytes"`
	Width        int     `json:"width"`
	Height       int     `json:"height"`
	LatentWidth  int     `json:"latent_width"`
	LatentHeight int     `json:"latent_height"`
	Steps        int     `json:"steps"`
	Sampler      string  `json:"sampler"`
	CFGScale     float64 `json:"cfg_scale"`
	Batch        int     `json:"unet_batch"` // 2 with guidance
	Threads      int     `json:"threads"`
	CPUs         int     `json:"cpus"`
	GOOS         string  `json:"goos"`
	GOARCH       string  `json:"goarch"`
	GoVersion    string  `json:"go_version"`
	Stages       []Stage `json:"stages"`
	UNetCalls    []Call  `json:"unet_calls"`
	TotalSeconds float64 `json:"total_seconds"` // load to decoded image
	PeakRSS      int64   `json:"peak_rss_bytes"`
	// Kernels and CeilingGFLOPS: the kernel set in use and its micro-kernel
	// on cache-resident data on every thread, measured before the run; the
	// ratios read the steady U-Net call (the median of the calls after the
	// first) and the VAE decode against it.
	// A bfloat16 run (Precision "bf16") reads against the bfloat16
	// kernel's ceiling and also reports the float32 one.
	Kernels           string  `json:"kernels"`
	Precision         string  `json:"precision"`
	CeilingGFLOPS     float64 `json:"ceiling_gflops,omitempty"`
	CeilingFP32GFLOPS float64 `json:"ceiling_fp32_gflops,omitempty"`
	UNetSteadyGFLOPS  float64 `json:"unet_steady_gflops,omitempty"`
	UNetCeilingRatio  float64 `json:"unet_ceiling_ratio,omitempty"`
	VAECeilingRatio   float64 `json:"vae_ceiling_ratio,omitempty"`
	// Finite is false when a U-Net output or the decoded image held NaN or
	// infinity (a broken model or kernel, not a slow one).
	Finite bool `json:"finite"`
}

// Run loads the model at path and times each stage of one generation:
// loading (file to ready networks), the text encoder (prompt and, with
// guidance, negative prompt in one batch), every U-Net evaluation, and the
// VAE decode. It returns ctx.Err() when cancelled between stages or calls.
func Run(ctx context.Context, path string, o Options) (*Report, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	nn.SetThreads(o.Threads)
	var ceiling, ceilingBF16 float64
	if o.CeilingTime > 0 {
		ceiling = gemm.Ceiling(o.Threads, o.CeilingTime)
		if o.Precision == "bf16" {
			ceilingBF16 = gemm.CeilingBF16(o.Threads, o.CeilingTime)
		}
	}
	start, startCPU := time.Now(), cpuTime()
	m, err := model.Load(path, model.Options{})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	p, err := pipeline.New(m, pipeline.Options{ReleaseWeights: true, MergeLoRAs: o.MergeLoRAs}) // one image, as imggen makes it
	if err != nil {
		return nil, err
	}
	r := &Report{Model: m.Name, Path: path, Layout: m.Layout, ModelBytes: model.Bytes(path)}
	if raw, ok := m.UNetWeights.(weights.RawSource); ok {
		_, r.DType, _ = raw.Raw("conv_in.weight")
	}
	r.stage(o, "load", 1, time.Since(start), cpuTime()-startCPU, 0)
	if err := run(ctx, p, o, r); err != nil {
		return nil, err
	}
	r.TotalSeconds = time.Since(start).Seconds()
	r.Kernels, r.Precision = gemm.CurrentImpl().String(), "fp32"
	if o.Precision == "fp32-winograd" {
		r.Kernels, r.Precision = r.Kernels+"+winograd", o.Precision
	}
	if o.Precision == "bf16" {
		r.Kernels, r.Precision, r.CeilingFP32GFLOPS = r.Kernels+"+bf16", "bf16", ceiling
		if !gemm.HasBF16() {
			r.Kernels = "go+bf16"
		}
		ceiling = ceilingBF16
	}
	r.readAgainst(ceiling)
	return r, nil
}

// readAgainst sets the ceiling and the ratios of the steady U-Net call and
// the VAE decode to it.
func (r *Report) readAgainst(ceiling float64) {
	if ceiling <= 0 {
		return
	}
	r.CeilingGFLOPS = ceiling
	var steady []float64
	for i, c := range r.UNetCalls {
		if i > 0 || len(r.UNetCalls) == 1 {
			steady = append(steady, c.GFLOPS)
		}
	}
	if len(steady) > 0 {
		slices.Sort(steady)
		r.UNetSteadyGFLOPS = steady[len(steady)/2]
		r.UNetCeilingRatio = r.UNetSteadyGFLOPS / ceiling
	}
	for _, s := range r.Stages {
		if s.Name == "vae_decode" {
			r.VAECeilingRatio = s.GFLOPS / ceiling
		}
	}
}

// run times the stages after loading by running the real pipeline with a
// trace: the text encoder, every U-Net evaluation, the VAE decode.
func run(ctx context.Context, p *pipeline.Pipeline, o Options, r *Report) error {
	uc, vc := p.UNet().Config(), p.VAE().Config()
	lh, lw := o.Height/8, o.Width/8
	r.Width, r.Height, r.LatentWidth, r.LatentHeight = o.Width, o.Height, lw, lh
	r.Steps, r.Sampler, r.CFGScale, r.Threads = o.Steps, o.Sampler, o.CFGScale, nn.Threads()
	r.CPUs, r.GOOS, r.GOARCH, r.GoVersion = runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version()
	r.Batch, r.Finite = 1, true
	prompts := 1
	if o.CFGScale > 1 {
		r.Batch, prompts = 2, 2
	}
	perCall := UNetFLOPs(uc, r.Batch, lh, lw)
	var unetTime, unetCPU time.Duration
	var unetRSS, unetPeak int64 // memory as the last U-Net call returns
	// CPU time is read at each hook: what a stage or U-Net call used is
	// the CPU time since the hook before it (the work between them is a
	// sampler step on the latents, too small to show).
	lastCPU := cpuTime()
	cpuSince := func() time.Duration {
		now := cpuTime()
		d := now - lastCPU
		lastCPU = now
		return d
	}
	tr := &pipeline.Trace{
		InitialLatent: func([]float32) { cpuSince() },
		StartLatents:  func([]float32) { cpuSince() },
		Step:          func(int, []float32, []float32) { cpuSince() },
		Stage: func(name string, d time.Duration) {
			cpu := cpuSince()
			switch name {
			case "text_encoder":
				var work int64
				for _, tm := range p.TextModels() {
					work += TextFLOPs(tm.Config(), prompts)
				}
				r.stage(o, name, 1, d, cpu, work)
			case "vae_decode":
				r.stageMem(o, "unet", len(r.UNetCalls), unetTime, unetCPU, perCall*int64(len(r.UNetCalls)), unetRSS, unetPeak)
				r.stage(o, name, 1, d, cpu, VAEDecodeFLOPs(vc, lh, lw))
			}
		},
		UNetOutput: func(i int, t float64, out *tensor.Tensor, d time.Duration) {
			cpu := cpuSince()
			unetTime += d
			unetCPU += cpu
			unetRSS, unetPeak = memory()
			c := Call{Index: i, Timestep: t, Seconds: d.Seconds(), GFLOPS: gflops(perCall, d), CPU: cpu.Seconds()}
			r.UNetCalls = append(r.UNetCalls, c)
			o.logf("unet call %d/%d: %.2f s, %.2f GFLOPS", i+1, o.Steps, c.Seconds, c.GFLOPS)
			r.Finite = r.Finite && finite(out.Data)
		},
		Decoded: func(img *tensor.Tensor) { r.Finite = r.Finite && finite(img.Data) },
	}
	if _, err := p.GenerateTrace(ctx, o.request(), nil, tr); err != nil {
		return err
	}
	if !r.Finite {
		o.logf("warning: non-finite values in the U-Net output or the decoded image")
	}
	return nil
}

// stage records a finished stage with the memory use at its end.
func (r *Report) stage(o Options, name string, calls int, d, cpu time.Duration, flop int64) {
	rss, peak := memory()
	r.stageMem(o, name, calls, d, cpu, flop, rss, peak)
}

// stageMem records a stage with the memory use measured when it ended.
func (r *Report) stageMem(o Options, name string, calls int, d, cpu time.Duration, flop int64, rss, peak int64) {
	st := Stage{Name: name, Calls: calls, Seconds: d.Seconds(), GFLOP: float64(flop) / 1e9, GFLOPS: gflops(flop, d), RSS: rss, PeakRSS: peak, CPU: cpu.Seconds()}
	r.Stages = append(r.Stages, st)
	r.PeakRSS = max(r.PeakRSS, peak)
	msg := fmt.Sprintf("%s: %.2f s", name, st.Seconds)
	if flop > 0 {
		msg += fmt.Sprintf(", %.4g GFLOP, %.2f GFLOPS", st.GFLOP, st.GFLOPS)
	}
	if peak > 0 {
		msg += ", peak RSS " + fmtBytes(peak)
	}
	o.logf("%s", msg)
}

// busy formats the share of the run's threads that CPU time cpu kept
// busy over wall seconds, or "-" where it is unknown.
func (r *Report) busy(cpu, wall float64) string {
	if cpu <= 0 || wall <= 0 || r.Threads < 1 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*cpu/(wall*float64(r.Threads)))
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func gflops(flop int64, d time.Duration) float64 {
	if flop == 0 || d <= 0 {
		return 0
	}
	return float64(flop) / d.Seconds() / 1e9
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// Table formats the report for people.
func (r *Report) Table() string {
	var b strings.Builder
	guidance := "no guidance"
	if r.Batch == 2 {
		guidance = "U-Net batch 2"
	}
	fmt.Fprintf(&b, "model   %s (%s, %s, %s)\n", r.Model, r.Layout, r.DType, fmtBytes(r.ModelBytes))
	fmt.Fprintf(&b, "run     %dx%d (latent %dx%d), %s, %d steps, cfg %g (%s), %d threads\n",
		r.Width, r.Height, r.LatentWidth, r.LatentHeight, r.Sampler, r.Steps, r.CFGScale, guidance, r.Threads)
	fmt.Fprintf(&b, "system  %s/%s, %d CPUs, %s\n\n", r.GOOS, r.GOARCH, r.CPUs, r.GoVersion)
	fmt.Fprintf(&b, "%-13s %5s %10s %10s %11s %8s %6s %10s %10s\n", "stage", "calls", "wall s", "s/call", "GFLOP/call", "GFLOPS", "busy", "RSS", "peak RSS")
	dash := func(v float64, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	for _, s := range r.Stages {
		fmt.Fprintf(&b, "%-13s %5d %10.2f %10.2f %11s %8s %6s %10s %10s\n", s.Name, s.Calls, s.Seconds, s.Seconds/float64(max(s.Calls, 1)),
			dash(s.GFLOP/float64(max(s.Calls, 1)), "%.4g"), dash(s.GFLOPS, "%.2f"), r.busy(s.CPU, s.Seconds), memString(s.RSS), memString(s.PeakRSS))
	}
	fmt.Fprintf(&b, "%-13s %5s %10.2f %10s %11s %8s %6s %10s %10s\n", "total", "", r.TotalSeconds, "", "", "", "", "", memString(r.PeakRSS))
	if len(r.UNetCalls) > 0 {
		fmt.Fprintf(&b, "\n%-13s %9s %10s %8s %6s\n", "U-Net call", "timestep", "wall s", "GFLOPS", "busy")
		for _, c := range r.UNetCalls {
			fmt.Fprintf(&b, "%-13d %9g %10.2f %8.2f %6s\n", c.Index+1, c.Timestep, c.Seconds, c.GFLOPS, r.busy(c.CPU, c.Seconds))
		}
	}
	if r.CeilingGFLOPS > 0 {
		fmt.Fprintf(&b, "\nkernel ceiling (%s micro-kernel, cache-resident, %d threads): %.1f GFLOPS\n", r.Kernels, r.Threads, r.CeilingGFLOPS)
		fmt.Fprintf(&b, "steady U-Net call: %.1f GFLOPS, %.0f%% of it; VAE decode %.0f%%\n",
			r.UNetSteadyGFLOPS, 100*r.UNetCeilingRatio, 100*r.VAECeilingRatio)
		if r.CeilingFP32GFLOPS > 0 {
			fmt.Fprintf(&b, "float32 kernel ceiling: %.1f GFLOPS\n", r.CeilingFP32GFLOPS)
		}
	}
	if !r.Finite {
		b.WriteString("\nwarning: non-finite values in the U-Net output or the decoded image\n")
	}
	return b.String()
}

func memString(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmtBytes(b)
}
