package model

import (
	"fmt"
	"strings"

	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
)

// SDXL constants the shapes of a single file cannot show.
const (
	sdxlScaling    = 0.13025 // VAE latent scaling
	sdxlHeadSize   = 64      // num_head_channels of SDXL's U-Net
	tinyUNetHead   = 16      // head size of U-Nets narrower than 64 (sdxl-tiny: 32 = 2 x 16)
	sdxlSampleSize = 128     // 1024 px / 8
	sdxlSizeIDs    = 6       // original (h, w), crop (top, left), target (h, w)
)

// sdxlRefiner is why Load refuses SDXL's refiner, which the shapes tell
// apart from a base model by its lone OpenCLIP encoder.
const sdxlRefiner = "this is an SDXL refiner checkpoint (only the OpenCLIP ViT-bigG text encoder; " +
	"five size ids with an aesthetic score): imggen runs SDXL base models, their fine-tunes and Turbo/Lightning-style models, not the refiner"

// sdxlOpenCLIPKeys maps the keys of SDXL's second tower, OpenCLIP
// ViT-bigG, keeping every layer (its pooled output needs the last) and
// its text projection, which OpenCLIP stores transposed (x @ P).
func sdxlOpenCLIPKeys([]string) func(string) ([]string, keyKind) {
	return func(k string) ([]string, keyKind) {
		k = strings.TrimPrefix(k, sdxlOpenCLIP)
		if k == "text_projection" {
			return []string{"text_projection.weight"}, keyTransposed
		}
		return mapOpenCLIPKey(k, -1)
	}
}

// inferSDXLOpenCLIPText derives the config of SDXL's second encoder, a
// CLIPTextModelWithProjection: exact-erf GELU, 64-wide heads (4-wide in
// towers narrower than 64, sdxl-tiny's), every layer, the projection's width.
func inferSDXLOpenCLIPText(c *Component) (textenc.Config, error) {
	cfg, err := inferText(c, 0)
	if err != nil && cfg.HiddenSize == 0 {
		return cfg, err
	}
	cfg.HiddenAct = "gelu"
	switch h := cfg.HiddenSize; {
	case h%openCLIPHeadDim == 0:
		cfg.NumAttentionHeads = h / openCLIPHeadDim
	case h < openCLIPHeadDim && h%tinySDXLHead == 0:
		cfg.NumAttentionHeads = h / tinySDXLHead
	default:
		return cfg, fmt.Errorf("text_encoder_2: hidden size %d is not a whole number of 64-wide heads", h)
	}
	p, err := need(c, "text_projection.weight", 2)
	if err != nil {
		return cfg, err
	}
	if p[1] != cfg.HiddenSize {
		return cfg, fmt.Errorf("text_encoder_2: text_projection is %v, want [*, %d]", p, cfg.HiddenSize)
	}
	return cfg.WithProjection(p[0]), nil
}

// sdxlUNet completes the shape-inferred U-Net config of an SDXL file: a
// fixed head size (the yaml's num_head_channels, else 64), each level's
// transformer depth, the added conditioning's widths and the native size.
func sdxlUNet(u *unet.Config, comps [numComps]*Component, y *ldmConfig) error {
	c := comps[compUNet]
	size := sdxlHeadSize
	if y != nil && y.headChannels > 0 {
		size = y.headChannels
	} else if u.BlockOutChannels[0] < sdxlHeadSize {
		size = tinyUNetHead
	}
	levels := len(u.BlockOutChannels)
	heads := make(unet.IntOrList, levels)
	depth := make(unet.IntOrList, levels)
	for i, ch := range u.BlockOutChannels {
		if ch%size != 0 {
			return fmt.Errorf("unet: %d channels at level %d are not whole heads of %d", ch, i, size)
		}
		heads[i] = ch / size
		depth[i] = max(1, c.count(fmt.Sprintf("down_blocks.%d.attentions.0.transformer_blocks.%%d.attn1.to_q.weight", i)))
	}
	if mid := c.count("mid_block.attentions.0.transformer_blocks.%d.attn1.to_q.weight"); mid != depth[levels-1] {
		return fmt.Errorf("unet: the mid block has %d transformer blocks, the last level %d", mid, depth[levels-1])
	}
	u.AttentionHeadDim, u.NumAttentionHeads, u.TransformerLayersPerBlock = heads, nil, depth

	add, err := need(c, "add_embedding.linear_1.weight", 2)
	if err != nil {
		return err
	}
	pooled, err := need(comps[compText2], "text_projection.weight", 2)
	if err != nil {
		return err
	}
	per := add[1] - pooled[0]
	if per <= 0 || per%sdxlSizeIDs != 0 || per/sdxlSizeIDs%2 != 0 {
		return fmt.Errorf("unet: add_embedding takes %d inputs: not a %d-wide pooled embedding and %d size ids", add[1], pooled[0], sdxlSizeIDs)
	}
	u.AdditionEmbedType, u.AdditionTimeEmbedDim, u.ProjectionClassEmbeddingsInputDim = "text_time", per/sdxlSizeIDs, add[1]
	u.SampleSize = sdxlSampleSize
	return nil
}

// sdxlSchedulerConfig is the scheduler diffusers 0.27.2's from_single_file
// gives an SDXL checkpoint: EulerDiscreteScheduler with SD's betas and
// "leading" spacing, as SDXL base's own scheduler_config.json.
func sdxlSchedulerConfig(*ldmConfig) []byte {
	return []byte(`{"_class_name": "EulerDiscreteScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, ` +
		`"beta_schedule": "scaled_linear", "interpolation_type": "linear", "prediction_type": "epsilon", "steps_offset": 1, ` +
		`"timestep_spacing": "leading", "use_karras_sigmas": false}`)
}
