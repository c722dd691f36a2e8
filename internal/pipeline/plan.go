package pipeline

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/sampler"
	"github.com/imggen/imggen/internal/textenc"
)

// The defaults every front end shares (the command line, bench, worldeval,
// a library user).
const (
	DefaultSampler  = "dpmpp_2m"
	DefaultSteps    = 20
	DefaultCFGScale = 7.5 // a front end's default; Plan cannot tell 0 from unset
)

// Samplers lists the sampler names a Request may give.
func Samplers() []string { return sampler.Names() }

// SetThreads sets how many threads every network uses (at least 1). It is
// process-wide, like the kernels' choice: results are the same bits for
// any value.
func SetThreads(n int) { nn.SetThreads(n) }

// NativeBF16 reports whether this CPU has the bfloat16 kernel (AVX-512
// BF16) that makes Precision "bf16" fast; without it such a request gives
// the same pixels from Go code, many times slower.
func NativeBF16() bool { return gemm.HasBF16() }

// ModelDefaults is what a loaded model says about how it runs.
type ModelDefaults struct {
	Width, Height int    // native image size
	Sampler       string // the sampler it must run with (few-step models), or ""
	// SizeConditioning: the U-Net takes SDXL's size ids (original size,
	// crop, target size).
	SizeConditioning bool
}

// Defaults reports p's model defaults: the U-Net's sample size x 8 (512 if
// the configuration has none), and the sampler of a model whose scheduler
// configuration asks for "trailing" timestep spacing or is LCMScheduler:
// distilled few-step models such as SD-Turbo and LCM models ship the
// scheduler they were distilled for.
// Ordinary models run with any sampler.
func (p *Pipeline) Defaults() ModelDefaults {
	s := p.unet.Config().SampleSize * 8
	if s <= 0 {
		s = 512
	}
	d := ModelDefaults{Width: s, Height: s, SizeConditioning: p.unet.Config().TextTime()}
	if name, ok := sampler.NameForClass(p.scheduler.ClassName); ok && (p.scheduler.TimestepSpacing == "trailing" || name == "lcm") {
		d.Sampler = name
	}
	return d
}

// Plan resolves the fields req leaves unset and returns the notes a user
// should see about what was decided:
//   - Width, Height 0: the model's native size;
//   - Sampler and Schedule both "": the model's own sampler when it has one
//     (SD-Turbo's trailing-spacing scheduler), else DefaultSampler;
//   - Schedule "": karras for dpmpp_2m, the sampler's default otherwise;
//   - ClipSkip 0: 1; LongPrompts "": truncate;
//   - VAETiling "auto": "on" above AutoTilePixels (with a note), else "";
//   - size conditioning for a model that takes none: dropped, with a note.
//
// Steps and CFGScale are always the caller's (DefaultSteps and
// DefaultCFGScale are the front ends' defaults).
//
// The result is validated. Plan does not look at the prompt (see
// PromptWarning).
func Plan(req Request, m ModelDefaults) (Request, []string, error) {
	var notes []string
	if req.Width == 0 {
		req.Width = m.Width
	}
	if req.Height == 0 {
		req.Height = m.Height
	}
	if req.Sampler == "" {
		req.Sampler = DefaultSampler
		if m.Sampler != "" && req.Schedule == "" {
			req.Sampler, req.Schedule = m.Sampler, "default"
			notes = append(notes, fmt.Sprintf("the model ships its own scheduler: using sampler %s", m.Sampler))
		}
	}
	if req.Schedule == "" {
		req.Schedule = "default"
		if req.Sampler == "dpmpp_2m" {
			req.Schedule = "karras"
		}
	}
	if req.ClipSkip == 0 {
		req.ClipSkip = 1
	}
	if req.LongPrompts == "" {
		req.LongPrompts = "truncate"
	}
	if req.VAETiling == "" || req.VAETiling == "auto" {
		req.VAETiling = ""
		if req.tiled() {
			req.VAETiling = "on"
			notes = append(notes, fmt.Sprintf("note: decoding %dx%d in tiles to bound its memory (--vae-tiling off decodes it whole)", req.Width, req.Height))
		}
	}
	if err := req.Validate(); err != nil {
		return req, nil, err
	}
	if far(req.Width, m.Width) || far(req.Height, m.Height) {
		notes = append(notes, fmt.Sprintf("note: %dx%d is far from the model's native %dx%d; pictures tend to repeat or lose their composition there",
			req.Width, req.Height, m.Width, m.Height))
	}
	if !m.SizeConditioning && req.sizeConditioned() {
		notes = append(notes, "note: --original-size, --crop-coords and --target-size are ignored: only SDXL models take size conditioning")
		req.OriginalWidth, req.OriginalHeight, req.CropTop, req.CropLeft, req.TargetWidth, req.TargetHeight = 0, 0, 0, 0, 0, 0
	}
	if req.CFGScale <= 1 && req.NegativePrompt != "" {
		notes = append(notes, fmt.Sprintf("note: the negative prompt is not used: guidance is off (--cfg-scale %g <= 1)", req.CFGScale))
	}
	return req, notes, nil
}

// far reports whether a size is at least twice or at most half the native one.
func far(size, native int) bool { return native > 0 && (size >= 2*native || 2*size <= native) }

// EstimateMemory is the peak resident memory to expect for one image of
// w x h from a checkpoint of modelBytes bytes: 0.92 x the checkpoint (the
// mapped weights, released stage by stage) plus 1.2 KB per pixel
// (activations), as measured with imggen bench on SD 1.5's shapes (f16,
// 2.04 GB at 256x256 and 2.28 GB at 512x512 from the 2.13 GB file).
func EstimateMemory(modelBytes int64, w, h int) int64 {
	return modelBytes*92/100 + 1200*int64(w)*int64(h)
}

// clipTokenizer counts tokens for PromptWarning; every family's tokenizer
// splits text the same way (only the padding id differs).
var clipTokenizer = sync.OnceValue(func() *textenc.Tokenizer { return textenc.NewCLIPTokenizer(textenc.EOT) })

// PromptWarning says, for text (what names it: "prompt", "negative
// prompt"), that it is over CLIP's 75-token window and what will be cut;
// "" when it fits or when longPrompts is "chunk", which never cuts.
// Emphasis syntax is not counted: it is not tokenized.
func PromptWarning(what, text, longPrompts string) string {
	if text == "" || longPrompts == "chunk" {
		return ""
	}
	_, _, enc := clipTokenizer().EncodeWeighted(text)
	if !enc.Truncated {
		return ""
	}
	return fmt.Sprintf("warning: %s is %d tokens, over the limit of %d; dropped: %q (--long-prompts chunk keeps them)",
		what, enc.TextTokens, textenc.ContextLen-2, enc.Dropped)
}

// samplerAliases maps the names AUTOMATIC1111 and stable-diffusion.cpp use
// (lower-cased) to a sampler and, where the name implies one, a schedule.
var samplerAliases = map[string][2]string{
	"dpm++ 2m karras": {"dpmpp_2m", "karras"}, "dpm++ 2m": {"dpmpp_2m", ""}, "dpm++2m": {"dpmpp_2m", ""},
	"dpmpp2m": {"dpmpp_2m", ""}, "euler a": {"euler_a", ""}, "euler_ancestral": {"euler_a", ""},
	"euler karras": {"euler", "karras"}, "lms karras": {"lms", "karras"}, "plms": {"pndm", ""},
}

// ResolveSampler maps a sampler name as people type it (imggen's,
// AUTOMATIC1111's "DPM++ 2M Karras", "Euler a", "PLMS", stable-diffusion.cpp's
// "dpm++2m", any case) to imggen's name, and the schedule the name implies
// ("" when it implies none). Unknown names come back unchanged, for
// Validate to report.
func ResolveSampler(name string) (sampler, schedule string) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := samplerAliases[n]; ok {
		return a[0], a[1]
	}
	if slices.Contains(Samplers(), n) {
		return n, ""
	}
	return name, ""
}
