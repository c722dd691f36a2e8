// Package vae implements diffusers' AutoencoderKL: the decoder that turns
// latents into pixels and the encoder that turns pixels into latents.
package vae

import "fmt"

// Config mirrors the fields of diffusers' vae/config.json.
type Config struct {
	InChannels       int     `json:"in_channels"`
	OutChannels      int     `json:"out_channels"`
	LatentChannels   int     `json:"latent_channels"`
	BlockOutChannels []int   `json:"block_out_channels"`
	LayersPerBlock   int     `json:"layers_per_block"`
	NormNumGroups    int     `json:"norm_num_groups"`
	ScalingFactor    float64 `json:"scaling_factor"`
	SampleSize       int     `json:"sample_size"`
}

// SD15 is the configuration of Stable Diffusion 1.x's VAE.
func SD15() Config {
	return Config{
		InChannels: 3, OutChannels: 3, LatentChannels: 4,
		BlockOutChannels: []int{128, 256, 512, 512}, LayersPerBlock: 2,
		NormNumGroups: 32, ScalingFactor: 0.18215, SampleSize: 512,
	}
}

// Validate checks the configuration is one this implementation runs.
func (c Config) Validate() error {
	if len(c.BlockOutChannels) == 0 || c.LayersPerBlock < 1 || c.NormNumGroups < 1 || c.LatentChannels < 1 {
		return fmt.Errorf("vae config: incomplete (%+v)", c)
	}
	for _, ch := range c.BlockOutChannels {
		if ch%c.NormNumGroups != 0 {
			return fmt.Errorf("vae config: %d channels not divisible by %d groups", ch, c.NormNumGroups)
		}
	}
	return nil
}
