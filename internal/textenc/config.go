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
	}
	return nil
}
