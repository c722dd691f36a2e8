package model

import (
	"fmt"
	"strings"
)

// The single-file (LDM/CompVis) naming of the U-Net and the VAE is written
// once, as pairs of key prefixes of the two layouts, and read in both
// directions: diffusers names for loading a single file, LDM names for
// writing one (LDMName, cmd/mkcheckpoint). The rules follow diffusers'
// convert_original_stable_diffusion script.

// prefixRule is one block of the naming: a key that starts with ldm in the
// original layout starts with diffusers in diffusers', and what follows is
// renamed through tail (nil: kept as it is).
type prefixRule struct {
	ldm, diffusers string
	tail           [][2]string
}

var unetResnet = [][2]string{
	{"in_layers.0.", "norm1."}, {"in_layers.2.", "conv1."}, {"emb_layers.1.", "time_emb_proj."},
	{"out_layers.0.", "norm2."}, {"out_layers.3.", "conv2."}, {"skip_connection.", "conv_shortcut."},
}

var vaeResnet = [][2]string{
	{"norm1.", "norm1."}, {"conv1.", "conv1."}, {"norm2.", "norm2."}, {"conv2.", "conv2."},
	{"nin_shortcut.", "conv_shortcut."},
}

// unetRules is the U-Net's naming for layers resnets per down level over
// levels levels. LDM numbers the blocks through: input block 1 + l(L+1) + j
// is down level l, slot j, the last slot being the downsampler; output
// block l(L+1) + j is up level l, resnet j, with the upsampler after the
// last one's attention: sub-block 2 where the level has attentions, else 1.
// upAttn says which up levels have them; nil (loading, where it is not
// known yet) accepts either.
func unetRules(layers, levels int, upAttn []bool) []prefixRule {
	rules := []prefixRule{
		{"time_embed.0.", "time_embedding.linear_1.", nil}, {"time_embed.2.", "time_embedding.linear_2.", nil},
		{"label_emb.0.0.", "add_embedding.linear_1.", nil}, {"label_emb.0.2.", "add_embedding.linear_2.", nil}, // SDXL
		{"out.0.", "conv_norm_out.", nil}, {"out.2.", "conv_out.", nil}, {"input_blocks.0.0.", "conv_in.", nil},
		{"middle_block.0.", "mid_block.resnets.0.", unetResnet}, {"middle_block.2.", "mid_block.resnets.1.", unetResnet},
		{"middle_block.1.", "mid_block.attentions.0.", nil},
	}
	slots := layers + 1
	for l := range levels {
		for j := range layers {
			b := 1 + l*slots + j
			rules = append(rules,
				prefixRule{fmt.Sprintf("input_blocks.%d.0.", b), fmt.Sprintf("down_blocks.%d.resnets.%d.", l, j), unetResnet},
				prefixRule{fmt.Sprintf("input_blocks.%d.1.", b), fmt.Sprintf("down_blocks.%d.attentions.%d.", l, j), nil})
		}
		rules = append(rules, prefixRule{fmt.Sprintf("input_blocks.%d.0.op.", 1+l*slots+layers), fmt.Sprintf("down_blocks.%d.downsamplers.0.conv.", l), nil})
		for j := range slots {
			b := l*slots + j
			rules = append(rules,
				prefixRule{fmt.Sprintf("output_blocks.%d.0.", b), fmt.Sprintf("up_blocks.%d.resnets.%d.", l, j), unetResnet},
				prefixRule{fmt.Sprintf("output_blocks.%d.1.", b), fmt.Sprintf("up_blocks.%d.attentions.%d.", l, j), nil})
		}
		for _, sub := range []int{1, 2} {
			if upAttn == nil || (l < len(upAttn) && upAttn[l] == (sub == 2)) {
				rules = append(rules, prefixRule{fmt.Sprintf("output_blocks.%d.%d.conv.", l*slots+layers, sub), fmt.Sprintf("up_blocks.%d.upsamplers.0.conv.", l), nil})
			}
		}
	}
	return rules
}

// maxVAEResnets bounds the resnets per VAE level the naming covers.
const maxVAEResnets = 8

// vaeRules is the VAE's naming over levels levels. LDM numbers the
// decoder's up blocks from the full-resolution end: decoder.up.i is
// up_blocks.{levels-1-i}.
func vaeRules(levels int) []prefixRule {
	rules := []prefixRule{
		{"quant_conv.", "quant_conv.", nil}, {"post_quant_conv.", "post_quant_conv.", nil},
	}
	for _, coder := range []string{"encoder.", "decoder."} {
		rules = append(rules,
			prefixRule{coder + "conv_in.", coder + "conv_in.", nil}, prefixRule{coder + "conv_out.", coder + "conv_out.", nil},
			prefixRule{coder + "norm_out.", coder + "conv_norm_out.", nil},
			prefixRule{coder + "mid.block_1.", coder + "mid_block.resnets.0.", vaeResnet},
			prefixRule{coder + "mid.block_2.", coder + "mid_block.resnets.1.", vaeResnet},
			prefixRule{coder + "mid.attn_1.norm.", coder + "mid_block.attentions.0.group_norm.", nil},
			prefixRule{coder + "mid.attn_1.q.", coder + "mid_block.attentions.0.to_q.", nil},
			prefixRule{coder + "mid.attn_1.k.", coder + "mid_block.attentions.0.to_k.", nil},
			prefixRule{coder + "mid.attn_1.v.", coder + "mid_block.attentions.0.to_v.", nil},
			prefixRule{coder + "mid.attn_1.proj_out.", coder + "mid_block.attentions.0.to_out.0.", nil})
	}
	for l := range levels {
		up := levels - 1 - l
		for j := range maxVAEResnets {
			rules = append(rules,
				prefixRule{fmt.Sprintf("encoder.down.%d.block.%d.", l, j), fmt.Sprintf("encoder.down_blocks.%d.resnets.%d.", l, j), vaeResnet},
				prefixRule{fmt.Sprintf("decoder.up.%d.block.%d.", up, j), fmt.Sprintf("decoder.up_blocks.%d.resnets.%d.", l, j), vaeResnet})
		}
		rules = append(rules,
			prefixRule{fmt.Sprintf("encoder.down.%d.downsample.conv.", l), fmt.Sprintf("encoder.down_blocks.%d.downsamplers.0.conv.", l), nil},
			prefixRule{fmt.Sprintf("decoder.up.%d.upsample.conv.", up), fmt.Sprintf("decoder.up_blocks.%d.upsamplers.0.conv.", l), nil})
	}
	return rules
}

// toDiffusers renames an LDM key by the longest matching rule.
func toDiffusers(rules []prefixRule, k string) (string, bool) {
	return rename(rules, k, false)
}

// toLDM renames a diffusers key by the longest matching rule.
func toLDM(rules []prefixRule, k string) (string, bool) {
	return rename(rules, k, true)
}

func rename(rules []prefixRule, k string, inverse bool) (string, bool) {
	var best *prefixRule
	from := func(r *prefixRule) string {
		if inverse {
			return r.diffusers
		}
		return r.ldm
	}
	for i := range rules {
		if r := &rules[i]; strings.HasPrefix(k, from(r)) && (best == nil || len(from(r)) > len(from(best))) {
			best = r
		}
	}
	if best == nil {
		return "", false
	}
	to, rest := best.diffusers, k[len(from(best)):]
	if inverse {
		to = best.ldm
	}
	if best.tail == nil {
		return to + rest, true
	}
	for _, t := range best.tail {
		a, b := t[0], t[1]
		if inverse {
			a, b = b, a
		}
		if r, ok := strings.CutPrefix(rest, a); ok {
			return to + b + r, true
		}
	}
	return "", false
}
