package bench

import (
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
)

// ContextTokens is the length of the text context the U-Net attends to:
// CLIP's 77 positions, which every prompt is padded to.
const ContextTokens = 77

// The FLOP counts below are analytic: a multiply-add is 2 FLOPs, and only
// the matrix products are counted (convolutions, linear layers, and
// attention's QKᵀ and PV products, in full even where a causal mask makes
// half of them irrelevant). Norms, activations, softmax, residual adds and
// resampling are left out; they are a fraction of a percent of the work.
// The counts follow the layer structure of the unet, vae and textenc
// packages, including the U-Net's resize to the skip size for latent sides
// that are not multiples of 8.

// flops accumulates the products of one network evaluation.
type flops int64

// linear adds rows products of an in x out matrix.
func (f *flops) linear(rows, in, out int) { *f += flops(2 * int64(rows) * int64(in) * int64(out)) }

// conv adds a k x k convolution producing n images of px pixels.
func (f *flops) conv(n, px, in, out, k int) { f.linear(n*px, in*k*k, out) }

// attention adds QKᵀ and PV for n sequences of lq queries over lk keys of
// width dim (all heads together).
func (f *flops) attention(n, lq, lk, dim int) {
	*f += flops(2 * 2 * int64(n) * int64(lq) * int64(lk) * int64(dim))
}

// UNetFLOPs is the work of one U-Net evaluation on batch latents of h x w
// (latent pixels, 1/8 of the image side) with a ContextTokens-long context.
// With classifier-free guidance the pipeline evaluates batch 2.
func UNetFLOPs(cfg unet.Config, batch, h, w int) int64 {
	var f flops
	ch := cfg.BlockOutChannels
	n, nl := batch, len(ch)
	temb := 4 * ch[0]
	f.linear(n, ch[0], temb) // time embedding
	f.linear(n, temb, temb)
	if cfg.TextTime() { // SDXL's added conditioning
		f.linear(n, cfg.ProjectionClassEmbeddingsInputDim, temb)
		f.linear(n, temb, temb)
	}
	resnet := func(px, in, out int) {
		f.conv(n, px, in, out, 3)
		f.linear(n, temb, out) // time_emb_proj
		f.conv(n, px, out, out, 3)
		if in != out {
			f.conv(n, px, in, out, 1)
		}
	}
	transformer := func(px, c, depth int) {
		tokens := n * px
		f.linear(tokens, c, c) // proj_in (1x1 conv or linear: the same work)
		for range depth {
			f.linear(tokens, c, 3*c)
			f.attention(n, px, px, c) // self-attention
			f.linear(tokens, c, c)
			f.linear(tokens, c, c) // cross-attention: q
			f.linear(n*ContextTokens, cfg.CrossAttentionDim, 2*c)
			f.attention(n, px, ContextTokens, c)
			f.linear(tokens, c, c)
			f.linear(tokens, c, 8*c) // GEGLU
			f.linear(tokens, 4*c, c)
		}
		f.linear(tokens, c, c) // proj_out
	}
	type skip struct{ c, h, w int }
	f.conv(n, h*w, cfg.InChannels, ch[0], 3)
	skips := []skip{{ch[0], h, w}}
	in := ch[0]
	for i, out := range ch {
		cross := cfg.DownBlockTypes[i] == "CrossAttnDownBlock2D"
		for j := 0; j < cfg.LayersPerBlock; j++ {
			resnet(h*w, in, out)
			if cross {
				transformer(h*w, out, cfg.Depth(i))
			}
			in = out
			skips = append(skips, skip{out, h, w})
		}
		if i < nl-1 {
			h, w = (h-1)/2+1, (w-1)/2+1 // 3x3, stride 2, padding 1
			f.conv(n, h*w, out, out, 3)
			skips = append(skips, skip{out, h, w})
		}
	}
	last := ch[nl-1]
	resnet(h*w, last, last)
	transformer(h*w, last, cfg.Depth(nl-1))
	resnet(h*w, last, last)
	prev := last
	for i := 0; i < nl; i++ {
		out := ch[nl-1-i]
		cross := cfg.UpBlockTypes[i] == "CrossAttnUpBlock2D"
		for j := 0; j <= cfg.LayersPerBlock; j++ {
			s := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			resnet(h*w, prev+s.c, out)
			if cross {
				transformer(h*w, out, cfg.Depth(nl-1-i))
			}
			prev = out
		}
		if i < nl-1 {
			next := skips[len(skips)-1]
			h, w = next.h, next.w // nearest upsampling to the skip's size
			f.conv(n, h*w, out, out, 3)
		}
	}
	f.conv(n, h*w, ch[0], cfg.OutChannels, 3)
	return int64(f)
}

// VAEDecodeFLOPs is the work of decoding one image from latents of h x w.
func VAEDecodeFLOPs(cfg vae.Config, h, w int) int64 {
	var f flops
	ch := cfg.BlockOutChannels
	nl := len(ch)
	resnet := func(px, in, out int) {
		f.conv(1, px, in, out, 3)
		f.conv(1, px, out, out, 3)
		if in != out {
			f.conv(1, px, in, out, 1)
		}
	}
	top := ch[nl-1]
	f.conv(1, h*w, cfg.LatentChannels, cfg.LatentChannels, 1) // post_quant_conv
	f.conv(1, h*w, cfg.LatentChannels, top, 3)
	resnet(h*w, top, top)
	f.linear(h*w, top, 4*top) // one-head attention: q, k, v, out
	f.attention(1, h*w, h*w, top)
	resnet(h*w, top, top)
	in := top
	for i := 0; i < nl; i++ {
		out := ch[nl-1-i]
		for j := 0; j <= cfg.LayersPerBlock; j++ {
			resnet(h*w, in, out)
			in = out
		}
		if i < nl-1 {
			h, w = 2*h, 2*w
			f.conv(1, h*w, out, out, 3)
		}
	}
	f.conv(1, h*w, ch[0], cfg.OutChannels, 3)
	return int64(f)
}

// TextFLOPs is the work of encoding prompts prompts of ContextTokens tokens
// through every layer of the CLIP text transformer (clip skip 1).
func TextFLOPs(cfg textenc.Config, prompts int) int64 {
	var f flops
	s, d := ContextTokens, cfg.HiddenSize
	rows := prompts * s
	for range cfg.NumHiddenLayers {
		f.linear(rows, d, 4*d) // q, k, v, out_proj
		f.attention(prompts, s, s, d)
		f.linear(rows, d, cfg.IntermediateSize)
		f.linear(rows, cfg.IntermediateSize, d)
	}
	return int64(f)
}
