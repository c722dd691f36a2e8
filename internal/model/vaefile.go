package model

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/imggen/imggen/internal/safetensors"
)

// ReplaceVAE swaps the model's autoencoder for the one in the .safetensors
// file at path: a fine-tuned VAE such as sd-vae-ft-mse, with diffusers or
// original (LDM) key names, with or without the "first_stage_model."
// prefix. Its configuration is read from its shapes; the scaling factor
// and sample size stay the model's (a VAE file carries no config), and its
// latent channels must be the model's. Call it before building a pipeline.
func (m *Model) ReplaceVAE(path string) error {
	if pickleExts[strings.ToLower(filepath.Ext(path))] {
		return pickleError(path)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		if hasPickleMagic(path) {
			return pickleError(path)
		}
		return fmt.Errorf("VAE %s: %w", path, err)
	}
	c, err := vaeComponent(fileTensors(f))
	if err == nil {
		err = m.useVAE(c)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("VAE %s: %w", path, err)
	}
	m.files = append(m.files, f)
	return nil
}

// vaeComponent maps a VAE file's tensors to diffusers' AutoencoderKL names.
func vaeComponent(ts []storedTensor) (*Component, error) {
	var names []string
	for _, t := range ts {
		names = append(names, ldmVAE+strings.TrimPrefix(t.info.Name, ldmVAE))
	}
	lay := ldmLayoutOf(names) // the decoder's LDM levels, counted from the keys
	c := newComponent("vae")
	var unknown []string
	for _, t := range ts {
		in := t.info
		k := strings.TrimPrefix(in.Name, ldmVAE)
		e := entry{file: t.file, stored: in.Name, dtype: in.DType, shape: in.Shape, bytes: in.End - in.Begin}
		key := diffusersAlias(compVAE, k)
		if !diffusersVAEKey(k) {
			var ok bool
			if key, ok = toDiffusers(lay.vae, k); !ok {
				if strings.HasPrefix(k, "loss.") || strings.HasPrefix(k, "model_ema.") {
					continue // training-time tensors some VAE files carry
				}
				unknown = append(unknown, in.Name)
				continue
			}
			if isVAEAttnWeight(key) && len(e.shape) == 4 && e.shape[2] == 1 && e.shape[3] == 1 {
				e.shape = e.shape[:2] // LDM's 1x1 convs are diffusers' linears
			}
		}
		if !c.add(key, e) {
			unknown = append(unknown, in.Name)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%d tensors are not an autoencoder's (first: %q)", len(unknown), unknown[0])
	}
	c.sortNames()
	return c, nil
}

// diffusersVAEKey reports whether a VAE key is in diffusers' naming (the
// names both layouts share, such as conv_in and quant_conv, map to
// themselves either way).
func diffusersVAEKey(k string) bool {
	for _, part := range []string{".down_blocks.", ".up_blocks.", ".mid_block.", ".conv_norm_out."} {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

// useVAE makes c the model's autoencoder, with the config its shapes give
// and the model's scaling factor and sample size.
func (m *Model) useVAE(c *Component) error {
	cfg, err := inferVAE(c, m.Family, nil)
	if err != nil {
		return err
	}
	if cfg.LatentChannels != m.VAE.LatentChannels {
		return fmt.Errorf("it has %d latent channels, the model's VAE %d", cfg.LatentChannels, m.VAE.LatentChannels)
	}
	cfg.ScalingFactor, cfg.SampleSize = m.VAE.ScalingFactor, m.VAE.SampleSize
	if err := cfg.Validate(); err != nil {
		return err
	}
	m.VAE, m.VAEWeights = cfg, c
	return nil
}
