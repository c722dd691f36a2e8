// Package unet implements diffusers' UNet2DConditionModel (the Stable
// Diffusion noise predictor) in float32.
package unet

import (
	"encoding/json"
	"fmt"
)

// Config mirrors the fields of diffusers' unet/config.json that SD 1.x, 2.x
// and XL use.
type Config struct {
	InChannels          int       `json:"in_channels"`
	OutChannels         int       `json:"out_channels"`
	BlockOutChannels    []int     `json:"block_out_channels"`
	DownBlockTypes      []string  `json:"down_block_types"`
	UpBlockTypes        []string  `json:"up_block_types"`
	LayersPerBlock      int       `json:"layers_per_block"`
	AttentionHeadDim    IntOrList `json:"attention_head_dim"`
	NumAttentionHeads   IntOrList `json:"num_attention_heads"`
	CrossAttentionDim   int       `json:"cross_attention_dim"`
	NormNumGroups       int       `json:"norm_num_groups"`
	NormEps             float64   `json:"norm_eps"`
	FlipSinToCos        bool      `json:"flip_sin_to_cos"`
	FreqShift           float64   `json:"freq_shift"`
	UseLinearProjection bool      `json:"use_linear_projection"`
	SampleSize          int       `json:"sample_size"`
	ActFn               string    `json:"act_fn"`
	// TransformerLayersPerBlock is the depth of each level's transformers
	// (one value for all, or one per down level; the mid block uses the
	// last level's, the up path the reverse order). Empty means 1.
	TransformerLayersPerBlock IntOrList `json:"transformer_layers_per_block"`
	// AdditionEmbedType "text_time" (SDXL) adds to the time embedding a
	// projection of the pooled text embedding and the size ids, each id
	// embedded like a timestep with AdditionTimeEmbedDim channels;
	// ProjectionClassEmbeddingsInputDim is that projection's input width.
	AdditionEmbedType                 string `json:"addition_embed_type"`
	AdditionTimeEmbedDim              int    `json:"addition_time_embed_dim"`
	ProjectionClassEmbeddingsInputDim int    `json:"projection_class_embeddings_input_dim"`
}

// Depth returns the transformer depth of down level i (the mid block uses
// the last level's).
func (c Config) Depth(level int) int {
	switch v := c.TransformerLayersPerBlock; {
	case len(v) == 0:
		return 1
	case len(v) == 1:
		return v[0]
	default:
		return v[level]
	}
}

// TextTime reports whether the U-Net takes SDXL's added conditioning.
func (c Config) TextTime() bool { return c.AdditionEmbedType == "text_time" }

// SD15 is the configuration of Stable Diffusion 1.x's U-Net.
func SD15() Config {
	return Config{
		InChannels: 4, OutChannels: 4,
		BlockOutChannels: []int{320, 640, 1280, 1280},
		DownBlockTypes:   []string{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"},
		UpBlockTypes:     []string{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"},
		LayersPerBlock:   2, AttentionHeadDim: IntOrList{8}, CrossAttentionDim: 768,
		NormNumGroups: 32, NormEps: 1e-5, FlipSinToCos: true, FreqShift: 0,
		SampleSize: 64, ActFn: "silu",
	}
}

// Heads returns the number of attention heads of down level i (the mid
// block uses the last level). diffusers' SD configs name the head count
// "attention_head_dim"; num_attention_heads, when given, takes precedence.
func (c Config) Heads(level int) int {
	v := c.NumAttentionHeads
	if len(v) == 0 {
		v = c.AttentionHeadDim
	}
	if len(v) == 1 {
		return v[0]
	}
	return v[level]
}

// Validate checks the configuration is one this implementation runs.
func (c Config) Validate() error {
	n := len(c.BlockOutChannels)
	switch {
	case n == 0:
		return fmt.Errorf("unet config: empty block_out_channels")
	case len(c.DownBlockTypes) != n || len(c.UpBlockTypes) != n:
		return fmt.Errorf("unet config: %d block_out_channels but %d down and %d up blocks", n, len(c.DownBlockTypes), len(c.UpBlockTypes))
	case c.LayersPerBlock < 1:
		return fmt.Errorf("unet config: layers_per_block %d", c.LayersPerBlock)
	case c.NormNumGroups < 1:
		return fmt.Errorf("unet config: norm_num_groups %d", c.NormNumGroups)
	}
	heads := c.NumAttentionHeads
	if len(heads) == 0 {
		heads = c.AttentionHeadDim
	}
	if len(heads) != 1 && len(heads) != n {
		return fmt.Errorf("unet config: %d head counts for %d levels", len(heads), n)
	}
	if d := c.TransformerLayersPerBlock; len(d) > 1 && len(d) != n {
		return fmt.Errorf("unet config: %d transformer depths for %d levels", len(d), n)
	}
	for i := range n {
		if d := c.Depth(i); d < 1 || d > 64 {
			return fmt.Errorf("unet config: transformer depth %d at level %d", d, i)
		}
	}
	switch c.AdditionEmbedType {
	case "":
	case "text_time":
		if c.AdditionTimeEmbedDim < 2 || c.AdditionTimeEmbedDim%2 != 0 || c.ProjectionClassEmbeddingsInputDim <= 6*c.AdditionTimeEmbedDim {
			return fmt.Errorf("unet config: addition_time_embed_dim %d and projection_class_embeddings_input_dim %d do not fit six size ids and a pooled text embedding",
				c.AdditionTimeEmbedDim, c.ProjectionClassEmbeddingsInputDim)
		}
	default:
		return fmt.Errorf("unet config: addition_embed_type %q is not supported", c.AdditionEmbedType)
	}
	for i, ch := range c.BlockOutChannels {
		if ch%c.NormNumGroups != 0 {
			return fmt.Errorf("unet config: %d channels not divisible by %d groups", ch, c.NormNumGroups)
		}
		if h := c.Heads(i); h < 1 || ch%h != 0 {
			return fmt.Errorf("unet config: %d channels not divisible by %d heads", ch, h)
		}
	}
	return nil
}

// IntOrList decodes a JSON number or list of numbers (diffusers allows both);
// null decodes to an empty list.
type IntOrList []int

// UnmarshalJSON implements json.Unmarshaler.
func (v *IntOrList) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = nil
		return nil
	}
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*v = IntOrList{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a number or a list of numbers, got %s", b)
	}
	*v = many
	return nil
}
