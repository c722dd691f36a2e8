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
	CompUNet  = "unet"
	CompVAE   = "vae"
	CompText  = "text_encoder"
	CompText2 = "text_encoder_2" // SDXL's OpenCLIP ViT-bigG
)

// LDMLayout is what naming a tensor in the single-file (LDM/CompVis)
// layout needs beyond its diffusers name: the block structure that the LDM
// names flatten into running indices.
type LDMLayout struct {
	UNetLayersPerBlock int    // resnets per UNet down level
	UNetUpCrossAttn    []bool // per UNet up block: has attentions (moves the upsampler's index)
	VAELevels          int    // VAE decoder levels, numbered in reverse in LDM
	// XL names the text encoders as SDXL's files do (conditioner.embedders).
	XL bool
}

// NewLDMLayout derives the layout from the component configs.
func NewLDMLayout(u unet.Config, v vae.Config) LDMLayout {
	lay := LDMLayout{UNetLayersPerBlock: u.LayersPerBlock, VAELevels: len(v.BlockOutChannels), XL: u.TextTime()}
	for _, t := range u.UpBlockTypes {
		lay.UNetUpCrossAttn = append(lay.UNetUpCrossAttn, t == "CrossAttnUpBlock2D")
	}
	return lay
}

// LDMName is the inverse of the single-file key mapping (mapLDMKey, by the
// same rules, ldmnames.go): it
// returns the name and stored shape that the diffusers tensor key of
// component comp (CompUNet, CompVAE or CompText) has in an original
// single-file checkpoint. The shape differs for the VAE mid-block
// attention weights, which LDM stores as 1x1 convolutions [C, C, 1, 1],
// and in SDXL's OpenCLIP tower (CompText2): the text projection is stored
// transposed, and q, k and v are one fused in_proj tensor, named (with the
// fused shape) for q, and "" (nothing to store) for k and v.
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
		if lay.XL {
			name = sdxlCLIP + key
		}
	case CompText2:
		if !lay.XL {
			return "", nil, fmt.Errorf("%s: only SDXL has a second text encoder", comp)
		}
		var fused bool
		name, out, fused, ok = openCLIPName(key, shape)
		if fused {
			return "", nil, nil
		}
		name = sdxlOpenCLIP + name
	default:
		return "", nil, fmt.Errorf("unknown component %q", comp)
	}
	if !ok {
		return "", nil, fmt.Errorf("%s: no single-file name for %q", comp, key)
	}
	return name, out, nil
}

// openCLIPName is the inverse of sdxlOpenCLIPKeys: the OpenCLIP name and
// stored shape of a key of SDXL's second tower; fused reports a k or v
// projection, stored within q's in_proj.
func openCLIPName(key string, shape []int) (name string, out []int, fused, ok bool) {
	out = slices.Clone(shape)
	const tm = "text_model."
	switch key {
	case tm + "embeddings.token_embedding.weight":
		return "token_embedding.weight", out, false, true
	case tm + "embeddings.position_embedding.weight":
		return "positional_embedding", out, false, true
	case "text_projection.weight":
		if len(shape) != 2 {
			return "", nil, false, false
		}
		return "text_projection", []int{shape[1], shape[0]}, false, true
	}
	if r, ok := strings.CutPrefix(key, tm+"final_layer_norm."); ok {
		return "ln_final." + r, out, false, true
	}
	rest, ok := strings.CutPrefix(key, tm+"encoder.layers.")
	if !ok {
		return "", nil, false, false
	}
	idx, r, _ := strings.Cut(rest, ".")
	pre := "transformer.resblocks." + idx + "."
	for _, p := range []string{"q", "k", "v"} {
		if suf, ok := strings.CutPrefix(r, "self_attn."+p+"_proj."); ok {
			if p != "q" {
				return "", nil, true, true
			}
			if len(out) > 0 {
				out[0] *= 3
			}
			return pre + "attn.in_proj_" + suf, out, false, true
		}
	}
	for _, kv := range openCLIPBlockKeys {
		if t, ok := strings.CutPrefix(r, kv[1]); ok {
			return pre + kv[0] + t, out, false, true
		}
	}
	return "", nil, false, false
}
