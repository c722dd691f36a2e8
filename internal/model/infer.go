package model

import (
	"fmt"

	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
)

// SD 1.x constants the shapes cannot show.
const (
	sd1UNetHeads    = 8       // SD 1.x fixes the head count, not the head size
	sd1Scaling      = 0.18215 // VAE latent scaling
	sd1UNetSample   = 64      // 512 px / 8, diffusers' from_single_file default
	sd1VAESample    = 512
	clipHeadDim     = 64 // every released CLIP text tower
	tinyClipHeadDim = 8  // towers narrower than one 64-wide head (test models)
	tinySDXLHead    = 4  // sdxl-tiny's towers, too narrow for two 8-wide heads
)

// inferConfigs derives the configs of a single-file checkpoint of family f
// from its tensor shapes (already under diffusers names), with the sidecar
// yaml's head count and scale factor where given.
func inferConfigs(o *opened, f *Family, y *ldmConfig) error {
	var err error
	if o.unet, err = inferUNet(o.comps[compUNet], y); err != nil {
		return err
	}
	if o.vae, err = inferVAE(o.comps[compVAE], f, y); err != nil {
		return err
	}
	for i, tw := range f.towers {
		cfg, err := tw.infer(o.comps[compText+i])
		if err != nil {
			return err
		}
		if i == 0 {
			o.text = cfg
		} else {
			o.text2, o.pad2 = cfg, tw.pad
		}
	}
	if f.adjustUNet != nil {
		return f.adjustUNet(&o.unet, o.comps, y)
	}
	return nil
}

// SD 2.x constants the shapes cannot show.
const (
	sd2HeadSize       = 64 // num_head_channels of every released SD 2.x
	sd2VSample        = 96 // 768 px / 8: from_single_file's size for v-prediction
	openCLIPHeadDim   = 64 // OpenCLIP text towers' head width
	tinyOpenCLIPHeads = 16 // head width of towers narrower than 64 (sd2-tiny: 32 = 2 x 16)
)

// sd2UNet turns the shape-inferred U-Net config into SD 2.x's: a fixed head
// size (the yaml's num_head_channels, else 64), so per-level head counts
// channels / size, as diffusers' from_single_file computes
// attention_head_dim; 768 px native size for v-prediction models.
func sd2UNet(u *unet.Config, _ [numComps]*Component, y *ldmConfig) error {
	size := sd2HeadSize
	if y != nil && y.headChannels > 0 {
		size = y.headChannels
	}
	heads := make(unet.IntOrList, len(u.BlockOutChannels))
	for i, ch := range u.BlockOutChannels {
		if ch%size != 0 {
			return fmt.Errorf("unet: %d channels at level %d are not whole heads of %d", ch, i, size)
		}
		heads[i] = ch / size
	}
	u.AttentionHeadDim = heads
	u.NumAttentionHeads = nil
	if y == nil || y.vPrediction {
		u.SampleSize = sd2VSample
	}
	return nil
}

// inferOpenCLIPText derives the CLIPTextModel config of an SD 2.x text
// tower (already mapped, its last layer dropped): exact-erf GELU, 64-wide
// heads (16-wide below 64, the tiny test models' convention).
func inferOpenCLIPText(c *Component) (textenc.Config, error) {
	cfg, err := inferText(c, 0)
	if err != nil && cfg.HiddenSize == 0 {
		return cfg, err
	}
	cfg.HiddenAct = "gelu"
	switch h := cfg.HiddenSize; {
	case h%openCLIPHeadDim == 0:
		cfg.NumAttentionHeads = h / openCLIPHeadDim
	case h < openCLIPHeadDim && h%tinyOpenCLIPHeads == 0:
		cfg.NumAttentionHeads = h / tinyOpenCLIPHeads
	default:
		return cfg, fmt.Errorf("text_encoder: hidden size %d is not a whole number of 64-wide heads", h)
	}
	if cfg.NumHiddenLayers < 1 {
		return cfg, fmt.Errorf("text_encoder: the OpenCLIP tower has no layer besides its last, unused one")
	}
	return cfg, nil
}

// need returns the shape of a tensor the inference relies on, naming the key
// as stored when it is missing or of the wrong rank.
func need(c *Component, key string, rank int) ([]int, error) {
	s, ok := c.Shape(key)
	if !ok {
		return nil, fmt.Errorf("%s: missing tensor %q needed to infer the config", c.Name, key)
	}
	if len(s) != rank {
		return nil, fmt.Errorf("%s: tensor %q (stored as %q) has shape %v, expected %d dimensions", c.Name, key, c.Stored(key), s, rank)
	}
	for _, d := range s {
		if d == 0 {
			return nil, fmt.Errorf("%s: tensor %q (stored as %q) is empty: shape %v", c.Name, key, c.Stored(key), s)
		}
	}
	return s, nil
}

func (c *Component) has(format string, args ...any) bool {
	_, ok := c.entries[fmt.Sprintf(format, args...)]
	return ok
}

// count returns how many consecutive i from 0 have the formatted key.
func (c *Component) count(format string) int {
	n := 0
	for c.has(format, n) {
		n++
	}
	return n
}

func inferUNet(c *Component, y *ldmConfig) (unet.Config, error) {
	cfg := unet.SD15()
	in, err := need(c, "conv_in.weight", 4)
	if err != nil {
		return cfg, err
	}
	out, err := need(c, "conv_out.weight", 4)
	if err != nil {
		return cfg, err
	}
	cfg.InChannels, cfg.OutChannels = in[1], out[0]
	levels := c.count("down_blocks.%d.resnets.0.conv1.weight")
	if levels == 0 {
		_, err := need(c, "down_blocks.0.resnets.0.conv1.weight", 4)
		return cfg, err
	}
	cfg.BlockOutChannels = make([]int, levels)
	cfg.DownBlockTypes = make([]string, levels)
	cfg.UpBlockTypes = make([]string, levels)
	for i := 0; i < levels; i++ {
		s, err := need(c, fmt.Sprintf("down_blocks.%d.resnets.0.conv1.weight", i), 4)
		if err != nil {
			return cfg, err
		}
		cfg.BlockOutChannels[i] = s[0]
		cfg.DownBlockTypes[i] = "DownBlock2D"
		if c.has("down_blocks.%d.attentions.0.proj_in.weight", i) {
			cfg.DownBlockTypes[i] = "CrossAttnDownBlock2D"
		}
		cfg.UpBlockTypes[i] = "UpBlock2D"
		if c.has("up_blocks.%d.attentions.0.proj_in.weight", i) {
			cfg.UpBlockTypes[i] = "CrossAttnUpBlock2D"
		}
	}
	cfg.LayersPerBlock = c.count("down_blocks.0.resnets.%d.conv1.weight")
	// The context width is the input width of any cross-attention key
	// projection; the mid block always has one in SD 1.x.
	k, err := need(c, "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight", 2)
	if err != nil {
		return cfg, err
	}
	cfg.CrossAttentionDim = k[1]
	if p, ok := c.Shape("mid_block.attentions.0.proj_in.weight"); ok {
		cfg.UseLinearProjection = len(p) == 2
	}
	heads := sd1UNetHeads
	if y != nil && y.unetHeads > 0 {
		heads = y.unetHeads
	}
	cfg.AttentionHeadDim = unet.IntOrList{heads}
	cfg.NumAttentionHeads = nil
	cfg.SampleSize = sd1UNetSample
	return cfg, nil
}

func inferVAE(c *Component, f *Family, y *ldmConfig) (vae.Config, error) {
	cfg := vae.SD15()
	in, err := need(c, "encoder.conv_in.weight", 4)
	if err != nil {
		return cfg, err
	}
	out, err := need(c, "decoder.conv_out.weight", 4)
	if err != nil {
		return cfg, err
	}
	lat, err := need(c, "post_quant_conv.weight", 4)
	if err != nil {
		return cfg, err
	}
	cfg.InChannels, cfg.OutChannels, cfg.LatentChannels = in[1], out[0], lat[0]
	levels := c.count("encoder.down_blocks.%d.resnets.0.conv1.weight")
	if levels == 0 {
		_, err := need(c, "encoder.down_blocks.0.resnets.0.conv1.weight", 4)
		return cfg, err
	}
	cfg.BlockOutChannels = make([]int, levels)
	for i := range cfg.BlockOutChannels {
		s, err := need(c, fmt.Sprintf("encoder.down_blocks.%d.resnets.0.conv1.weight", i), 4)
		if err != nil {
			return cfg, err
		}
		cfg.BlockOutChannels[i] = s[0]
	}
	cfg.LayersPerBlock = c.count("encoder.down_blocks.0.resnets.%d.conv1.weight")
	cfg.ScalingFactor = f.vaeScaling
	if y != nil && y.scaleFactor > 0 {
		cfg.ScalingFactor = y.scaleFactor
	}
	cfg.SampleSize = f.vaeSample
	return cfg, nil
}

// inferCLIPText derives a CLIP ViT-L style tower's config (SD 1.x, SDXL's
// first encoder).
func inferCLIPText(c *Component) (textenc.Config, error) {
	return inferText(c, tinyClipHeadDim)
}

// inferText derives a CLIPTextModel config from the shapes: 64-wide heads,
// or tinyHead-wide ones for a tower narrower than 64 (a test model; 0: no
// such convention).
func inferText(c *Component, tinyHead int) (textenc.Config, error) {
	cfg := textenc.SD15()
	tok, err := need(c, "text_model.embeddings.token_embedding.weight", 2)
	if err != nil {
		return cfg, err
	}
	pos, err := need(c, "text_model.embeddings.position_embedding.weight", 2)
	if err != nil {
		return cfg, err
	}
	fc1, err := need(c, "text_model.encoder.layers.0.mlp.fc1.weight", 2)
	if err != nil {
		return cfg, err
	}
	cfg.VocabSize, cfg.HiddenSize = tok[0], tok[1]
	cfg.MaxPositionEmbeddings = pos[0]
	cfg.IntermediateSize = fc1[0]
	cfg.NumHiddenLayers = c.count("text_model.encoder.layers.%d.self_attn.q_proj.weight")
	// The head count is invisible in the shapes. CLIP uses 64-wide heads
	// (ViT-L/14: 768 = 12 x 64); a tower narrower than 64 can only be a test
	// model, and those (sd1-tiny: 32 = 4 x 8) use 8-wide heads, or 4-wide
	// ones when 8 do not fit (sdxl-tiny: 8 = 2 x 4, 12 = 3 x 4).
	switch h := cfg.HiddenSize; {
	case h%clipHeadDim == 0:
		cfg.NumAttentionHeads = h / clipHeadDim
	case h < clipHeadDim && tinyHead > 0 && h%tinyHead == 0 && h > tinyHead:
		cfg.NumAttentionHeads = h / tinyHead
	case h < clipHeadDim && tinyHead > 0 && h%tinySDXLHead == 0:
		cfg.NumAttentionHeads = h / tinySDXLHead
	default:
		return cfg, fmt.Errorf("text_encoder: hidden size %d is not a whole number of 64-wide heads", h)
	}
	return cfg, nil
}
