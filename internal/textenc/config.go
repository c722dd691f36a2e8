// Package textenc turns a prompt into the embedding the U-Net attends to:
// CLIP's byte-level BPE tokenizer and the CLIP text transformer.
package textenc

import "fmt"

// Config mirrors the fields of transformers' CLIPTextConfig (text_encoder/config.json).
type Config struct {
	VocabSize             int     `json:"vocab_size"`
	HiddenSize            int     `json:"hidden_size"`
	IntermediateSize      int     `json:"intermediate_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	HiddenAct             string  `json:"hidden_act"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	// Architectures names the transformers class; CLIPTextModelWithProjection
	// (SDXL's second encoder) adds text_projection, ProjectionDim wide.
	Architectures []string `json:"architectures"`
	ProjectionDim int      `json:"projection_dim"`
}

// withProjection is the transformers class of a tower with a text projection.
const withProjection = "CLIPTextModelWithProjection"

// Projected reports whether the tower ends in a text projection.
func (c Config) Projected() bool {
	return len(c.Architectures) == 1 && c.Architectures[0] == withProjection
}

// WithProjection returns c as a CLIPTextModelWithProjection of width dim.
func (c Config) WithProjection(dim int) Config {
	c.Architectures, c.ProjectionDim = []string{withProjection}, dim
	return c
}

// SD15 is CLIP ViT-L/14's text tower, as used by Stable Diffusion 1.x.
func SD15() Config {
	return Config{
		VocabSize: 49408, HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12,
		NumAttentionHeads: 12, MaxPositionEmbeddings: 77, HiddenAct: "quick_gelu", LayerNormEps: 1e-5,
	}
}

// Validate checks the configuration is one this implementation runs.
func (c Config) Validate() error {
	switch {
	case c.HiddenSize < 1 || c.NumAttentionHeads < 1 || c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("text encoder config: hidden_size %d, %d heads", c.HiddenSize, c.NumAttentionHeads)
	case c.NumHiddenLayers < 1 || c.VocabSize < 1 || c.IntermediateSize < 1:
		return fmt.Errorf("text encoder config: incomplete (%+v)", c)
	case c.MaxPositionEmbeddings < 77:
		return fmt.Errorf("text encoder config: max_position_embeddings %d < 77", c.MaxPositionEmbeddings)
	case c.HiddenAct != "quick_gelu" && c.HiddenAct != "gelu":
		return fmt.Errorf("text encoder config: unsupported hidden_act %q", c.HiddenAct)
	case c.Projected() && (c.ProjectionDim < 1 || c.ProjectionDim > 1<<16):
		return fmt.Errorf("text encoder config: projection_dim %d", c.ProjectionDim)
	}
	return nil
}
