// Package pipeline runs text-to-image generation: prompt -> CLIP embedding ->
// seeded latents -> sampler loop with classifier-free guidance -> VAE decode
// -> 8-bit RGB image, in the order of random draws diffusers uses, so that a
// seed gives the reference implementation's picture.
package pipeline

import (
	"fmt"
	"slices"

	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/sampler"
	"github.com/imggen/imggen/internal/tensor"
)

// Request is everything that determines one image.
type Request struct {
	// Prompt may hold AUTOMATIC1111's <lora:NAME:SCALE> tags: they are
	// removed from the text that is encoded (see LoRATags); the LoRAs
	// themselves come in LoRAs.
	Prompt, NegativePrompt string
	// LoRAs are applied for this image, each at its strength; several add up.
	LoRAs []LoRA
	// NegativeGiven says a negative prompt was given even if it is "": a
	// model with model.Model.ZerosForNoNegative (SDXL) conditions the
	// unconditional pass on zeros when none was, on the encoding of
	// NegativePrompt when one was. A non-empty NegativePrompt is given.
	NegativeGiven   bool
	Width, Height   int     // pixels, multiples of 8
	Steps           int     // sampler steps (>= 1)
	CFGScale        float64 // classifier-free guidance; <= 1 skips the unconditional pass
	Sampler         string  // one of sampler.Names()
	Schedule        string  // "default" (the sampler's own spacing) or "karras"
	Eta             float64 // DDIM's eta (0 = deterministic)
	Seed            int64   // torch.manual_seed value; torch uses its low 32 bits
	ClipSkip        int     // 1 (or 0) = last CLIP layer, 2 = penultimate, ... for prompt and negative
	LongPrompts     string  // "" or "truncate": keep the first 75 tokens (diffusers); "chunk": 77-token chunks, embeddings concatenated
	TimestepSpacing string  // "" = the model's scheduler config; else leading, linspace or trailing
	Prediction      string  // "" = the model's scheduler config; else eps or v
	// VAETiling is "on" (decode in overlapping tiles, blended: bounded
	// memory, slightly different pixels), "off", or "" / "auto" (on above
	// AutoTilePixels; Plan resolves it).
	VAETiling string
	// Precision is the arithmetic of the U-Net and the VAE decoder's
	// convolutions and linear layers: "" or "fp32" (float32, the reference
	// runs' bits), "bf16" (bfloat16 operands, float32 sums: faster on a CPU
	// with AVX-512 BF16, and a slightly different picture; see nn.BFloat16)
	// or "fp32-winograd" (float32, the 3x3 convolutions of the larger
	// images by Winograd's F(2x2, 3x3): fewer multiply-adds, different last
	// bits; see nn.FP32Winograd). The text encoders always run in float32.
	Precision string

	// Image-to-image: InitImage, when set, is the starting picture as
	// [1, 3, Height, Width] in [-1, 1] (see ImageTensor), and Strength in
	// (0, 1] is how much of the schedule runs (diffusers' strength: the last
	// int(Steps*Strength) calls). Mask, when set (needs InitImage), is
	// [1, 1, Height, Width] in [0, 1] (see MaskTensor); values >= 0.5 are
	// repainted, the rest is kept from InitImage (4-channel inpainting).
	InitImage *tensor.Tensor
	Mask      *tensor.Tensor
	Strength  float64

	// SDXL's size conditioning (ignored by other families): the size the
	// picture claims to come from, the crop's top-left corner and the size
	// it claims to be; 0 means the output size (and no crop), as diffusers'
	// defaults.
	OriginalWidth, OriginalHeight int
	CropTop, CropLeft             int
	TargetWidth, TargetHeight     int
}

// maxSizeID bounds the size-conditioning values: far beyond any training
// size, small enough that nothing downstream overflows.
const maxSizeID = 1 << 16

// sizeConditioned reports whether any size-conditioning field is set.
func (r Request) sizeConditioned() bool {
	return r.OriginalWidth != 0 || r.OriginalHeight != 0 || r.CropTop != 0 || r.CropLeft != 0 || r.TargetWidth != 0 || r.TargetHeight != 0
}

// negativeGiven reports whether a negative prompt was given.
func (r Request) negativeGiven() bool { return r.NegativeGiven || r.NegativePrompt != "" }

// SizeIDs returns SDXL's six size ids in diffusers' order: original
// (height, width), crop (top, left), target (height, width).
func (r Request) SizeIDs() [6]int {
	or := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	return [6]int{or(r.OriginalHeight, r.Height), or(r.OriginalWidth, r.Width), r.CropTop, r.CropLeft,
		or(r.TargetHeight, r.Height), or(r.TargetWidth, r.Width)}
}

// Spacings and Predictions list the accepted TimestepSpacing and
// Prediction overrides ("" keeps what the model's configuration says).
var (
	Spacings    = []string{"leading", "linspace", "trailing"}
	Predictions = []string{"eps", "v"}
)

// TilingModes lists the accepted VAETiling values besides "" (auto).
var TilingModes = []string{"auto", "on", "off"}

// AutoTilePixels is the picture size above which VAETiling "" (auto)
// decodes in tiles: more than 1024x1024. An untiled decode of 1024x1024
// peaks at 6.7 GB resident (measured, SDXL's VAE, 2 threads), a tiled one at
// 1.9 GB; up to this size the decode stays untiled, as diffusers decodes,
// so SD 1.x/2.x and SDXL pictures at their native sizes keep parity.
const AutoTilePixels = 1024 * 1024

// tiled reports whether the decode runs in tiles.
func (r Request) tiled() bool {
	return r.VAETiling == "on" || (r.VAETiling == "" || r.VAETiling == "auto") && r.Width*r.Height > AutoTilePixels
}

// LongPromptModes lists the accepted LongPrompts values.
var LongPromptModes = []string{"truncate", "chunk"}

// Precisions lists the accepted Precision values.
var Precisions = []string{"fp32", "bf16", "fp32-winograd"}

// precision is r.Precision for the layers.
func (r Request) precision() nn.Precision {
	p, err := nn.ParsePrecision(r.Precision)
	if err != nil {
		return nn.Float32 // "" (Validate rejects the rest)
	}
	return p
}

// Schedules lists the accepted Schedule values.
var Schedules = []string{"default", "karras"}

// Validate reports a usage error in the request (bad sizes, steps, names).
func (r Request) Validate() error {
	switch {
	case r.Width < 8 || r.Height < 8 || r.Width%8 != 0 || r.Height%8 != 0:
		return fmt.Errorf("width and height must be positive multiples of 8, got %dx%d", r.Width, r.Height)
	case r.Width > 4096 || r.Height > 4096:
		return fmt.Errorf("width and height must be at most 4096, got %dx%d", r.Width, r.Height)
	case r.Steps < 1 || r.Steps > 1000:
		return fmt.Errorf("steps must be between 1 and 1000, got %d", r.Steps)
	case !(r.CFGScale >= 0 && r.CFGScale <= 100): // also NaN
		return fmt.Errorf("cfg scale must be between 0 and 100, got %g", r.CFGScale)
	case !slices.Contains(sampler.Names(), r.Sampler):
		return fmt.Errorf("unknown sampler %q (one of %v)", r.Sampler, sampler.Names())
	case !slices.Contains(Schedules, r.Schedule):
		return fmt.Errorf("unknown schedule %q (one of %v)", r.Schedule, Schedules)
	case !(r.Eta >= 0 && r.Eta <= 1): // also NaN
		return fmt.Errorf("eta must be between 0 and 1, got %g", r.Eta)
	case !slices.Contains(LongPromptModes, r.LongPrompts) && r.LongPrompts != "":
		return fmt.Errorf("unknown long-prompt mode %q (one of %v)", r.LongPrompts, LongPromptModes)
	case r.TimestepSpacing != "" && !slices.Contains(Spacings, r.TimestepSpacing):
		return fmt.Errorf("unknown timestep spacing %q (one of %v)", r.TimestepSpacing, Spacings)
	case r.Prediction != "" && !slices.Contains(Predictions, r.Prediction):
		return fmt.Errorf("unknown prediction type %q (one of %v)", r.Prediction, Predictions)
	case r.VAETiling != "" && !slices.Contains(TilingModes, r.VAETiling):
		return fmt.Errorf("unknown VAE tiling mode %q (one of %v)", r.VAETiling, TilingModes)
	case r.Precision != "" && !slices.Contains(Precisions, r.Precision):
		return fmt.Errorf("unknown precision %q (one of %v)", r.Precision, Precisions)
	case r.ClipSkip < 0:
		return fmt.Errorf("clip skip must be >= 1, got %d", r.ClipSkip)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"original width", r.OriginalWidth}, {"original height", r.OriginalHeight}, {"crop top", r.CropTop},
		{"crop left", r.CropLeft}, {"target width", r.TargetWidth}, {"target height", r.TargetHeight}} {
		if v.n < 0 || v.n > maxSizeID {
			return fmt.Errorf("%s must be between 0 and %d, got %d", v.name, maxSizeID, v.n)
		}
	}
	if _, _, err := LoRATags(r.Prompt); err != nil {
		return err
	}
	for _, l := range r.LoRAs {
		if l.File == nil || l.Scale != l.Scale {
			return fmt.Errorf("a LoRA without a file or with a NaN strength")
		}
	}
	if err := r.validateImage(); err != nil {
		return err
	}
	// Combinations the sampler rejects (karras with ddim, eta with euler,
	// ...) are usage errors too; the model's scheduler config does not change
	// which combinations exist.
	if _, err := sampler.New(r.Sampler, sampler.DefaultConfig(), r.samplerOptions()); err != nil {
		return err
	}
	return nil
}

func (r Request) samplerOptions() sampler.Options {
	return sampler.Options{Steps: r.Steps, Eta: r.Eta, Karras: r.Schedule == "karras", Spacing: r.TimestepSpacing}
}

// schedulerConfig is the model's scheduler configuration with the
// request's overrides applied.
func (r Request) schedulerConfig(model sampler.Config) sampler.Config {
	switch r.Prediction {
	case "eps":
		model.PredictionType = "epsilon"
	case "v":
		model.PredictionType = "v_prediction"
	}
	return model
}
