package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
)

// Component names accepted by LDMName (the diffusers folder names).
const (
	CompUNet = "unet"
	CompVAE  = "vae"
	CompText = "text_encoder"
)

// LDMLayout is what naming a tensor in the single-file (LDM/CompVis)
// layout needs beyond its diffusers name: the block structure that the LDM
// names flatten into running indices.
type LDMLayout struct {
	UNetLayersPerBlock int    // resnets per UNet down level
	UNetUpCrossAttn    []bool // per UNet up block: has attentions (moves the upsampler's index)
	VAELevels          int    // VAE decoder levels, numbered in reverse in LDM
}

// NewLDMLayout derives the layout from the component configs.
func NewLDMLayout(u unet.Config, v vae.Config) LDMLayout {
	lay := LDMLayout{UNetLayersPerBlock: u.LayersPerBlock, VAELevels: len(v.BlockOutChannels)}
	for _, t := range u.UpBlockTypes {
		lay.UNetUpCrossAttn = append(lay.UNetUpCrossAttn, t == "CrossAttnUpBlock2D")
	}
	return lay
}

// LDMName is the inverse of the single-file key mapping (mapLDMKey, by the
// same rules, ldmnames.go): it
// returns the name and stored shape that the diffusers tensor key of
// component comp (CompUNet, CompVAE or CompText) has in an original
// single-file checkpoint. The shape differs only for the VAE mid-block
// attention weights, which LDM stores as 1x1 convolutions [C, C, 1, 1].
func LDMName(comp, key string, shape []int, lay LDMLayout) (string, []int, error) {
	var (
		name string
		ok   bool
	)
	out := slices.Clone(shape)
	switch comp {
	case CompUNet:
		name, ok = toLDM(unetRules(lay.UNetLayersPerBlock, len(lay.UNetUpCrossAttn), lay.UNetUpCrossAttn), key)
		name = ldmUNet + name
	case CompVAE:
		name, ok = toLDM(vaeRules(lay.VAELevels), key)
		name = ldmVAE + name
		if ok && isVAEAttnWeight(key) && len(shape) == 2 {
			out = append(out, 1, 1)
		}
	case CompText:
		ok = strings.HasPrefix(key, "text_model.")
		name = ldmText + key
	default:
		return "", nil, fmt.Errorf("unknown component %q", comp)
	}
	if !ok {
		return "", nil, fmt.Errorf("%s: no single-file name for %q", comp, key)
	}
	return name, out, nil
}
