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

// LDMName is the inverse of the single-file key mapping (mapLDMKey): it
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
		name, ok = unetLDMKey(key, lay)
		name = ldmUNet + name
	case CompVAE:
		name, ok = vaeLDMKey(key, lay.VAELevels)
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

// invert swaps the pairs of a renaming table.
func invert(table [][2]string) [][2]string {
	out := make([][2]string, len(table))
	for i, r := range table {
		out[i] = [2]string{r[1], r[0]}
	}
	return out
}

var (
	unetResnetInv = invert(unetResnet)
	vaeResnetInv  = invert(vaeResnet)
	vaeMidInv     = invert(vaeMid)
)

// cutIndex splits "name.<i>.rest" after prefix "name.", returning i and rest.
func cutIndex(s, prefix string) (int, string, bool) {
	r, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, "", false
	}
	idx, rest, ok := strings.Cut(r, ".")
	i, ok2 := atoi(idx)
	return i, rest, ok && ok2
}

func unetLDMKey(k string, lay LDMLayout) (string, bool) {
	if out, ok := renamePrefix(k, [][2]string{
		{"time_embedding.linear_1.", "time_embed.0."}, {"time_embedding.linear_2.", "time_embed.2."},
		{"conv_norm_out.", "out.0."}, {"conv_out.", "out.2."}, {"conv_in.", "input_blocks.0.0."},
	}); ok {
		return out, true
	}
	slots := lay.UNetLayersPerBlock + 1
	if level, rest, ok := cutIndex(k, "down_blocks."); ok {
		first := 1 + level*slots
		if j, r, ok := cutIndex(rest, "resnets."); ok && j < lay.UNetLayersPerBlock {
			m, ok := renamePrefix(r, unetResnetInv)
			return fmt.Sprintf("input_blocks.%d.0.%s", first+j, m), ok
		}
		if j, r, ok := cutIndex(rest, "attentions."); ok && j < lay.UNetLayersPerBlock {
			return fmt.Sprintf("input_blocks.%d.1.%s", first+j, r), true
		}
		if r, ok := strings.CutPrefix(rest, "downsamplers.0.conv."); ok {
			return fmt.Sprintf("input_blocks.%d.0.op.%s", first+lay.UNetLayersPerBlock, r), true
		}
		return "", false
	}
	if level, rest, ok := cutIndex(k, "up_blocks."); ok {
		first := level * slots
		if j, r, ok := cutIndex(rest, "resnets."); ok && j < slots {
			m, ok := renamePrefix(r, unetResnetInv)
			return fmt.Sprintf("output_blocks.%d.0.%s", first+j, m), ok
		}
		if j, r, ok := cutIndex(rest, "attentions."); ok && j < slots {
			return fmt.Sprintf("output_blocks.%d.1.%s", first+j, r), true
		}
		if r, ok := strings.CutPrefix(rest, "upsamplers.0.conv."); ok {
			if level >= len(lay.UNetUpCrossAttn) {
				return "", false
			}
			sub := 1 // [resnet, upsample]
			if lay.UNetUpCrossAttn[level] {
				sub = 2 // [resnet, transformer, upsample]
			}
			return fmt.Sprintf("output_blocks.%d.%d.conv.%s", first+slots-1, sub, r), true
		}
		return "", false
	}
	if rest, ok := strings.CutPrefix(k, "mid_block."); ok {
		if j, r, ok := cutIndex(rest, "resnets."); ok && j < 2 {
			m, ok := renamePrefix(r, unetResnetInv)
			return fmt.Sprintf("middle_block.%d.%s", 2*j, m), ok
		}
		if r, ok := strings.CutPrefix(rest, "attentions.0."); ok {
			return "middle_block.1." + r, true
		}
	}
	return "", false
}

func vaeLDMKey(k string, levels int) (string, bool) {
	if strings.HasPrefix(k, "quant_conv.") || strings.HasPrefix(k, "post_quant_conv.") {
		return k, true
	}
	coder, rest, ok := strings.Cut(k, ".")
	if !ok || (coder != "encoder" && coder != "decoder") {
		return "", false
	}
	if strings.HasPrefix(rest, "conv_in.") || strings.HasPrefix(rest, "conv_out.") {
		return k, true
	}
	if r, ok := strings.CutPrefix(rest, "conv_norm_out."); ok {
		return coder + ".norm_out." + r, true
	}
	if r, ok := strings.CutPrefix(rest, "mid_block."); ok {
		if j, rr, ok := cutIndex(r, "resnets."); ok && j < 2 {
			m, ok := renamePrefix(rr, vaeResnetInv)
			return fmt.Sprintf("%s.mid.block_%d.%s", coder, j+1, m), ok
		}
		m, ok := renamePrefix(r, vaeMidInv)
		return coder + ".mid." + m, ok
	}
	blocks, ldmBlocks, sampler := "down_blocks.", "down", "downsamplers.0.conv."
	if coder == "decoder" {
		blocks, ldmBlocks, sampler = "up_blocks.", "up", "upsamplers.0.conv."
	}
	level, r, ok := cutIndex(rest, blocks)
	if !ok {
		return "", false
	}
	if coder == "decoder" {
		if level >= levels {
			return "", false
		}
		level = levels - 1 - level
	}
	if rr, ok := strings.CutPrefix(r, sampler); ok {
		return fmt.Sprintf("%s.%s.%d.%ssample.conv.%s", coder, ldmBlocks, level, ldmBlocks, rr), true
	}
	if j, rr, ok := cutIndex(r, "resnets."); ok {
		m, ok := renamePrefix(rr, vaeResnetInv)
		return fmt.Sprintf("%s.%s.%d.block.%d.%s", coder, ldmBlocks, level, j, m), ok
	}
	return "", false
}
