package vae

import (
	"math"

	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// normEps is the epsilon of every GroupNorm in the VAE (diffusers passes
// resnet_eps=1e-6 to every block and to norm_out); the UNet uses 1e-5.
const normEps = 1e-6

// resnetBlock is diffusers' ResnetBlock2D without a time embedding:
// GN+SiLU, conv, GN+SiLU, conv, plus the (projected) input.
type resnetBlock struct {
	norm1, norm2 *nn.GroupNorm
	conv1, conv2 *nn.Conv2d
	shortcut     *nn.Conv2d // 1x1, only when the channel count changes
}

func loadResnet(l weights.Loader, groups, in, out int) *resnetBlock {
	r := &resnetBlock{
		norm1: nn.LoadGroupNorm(l.Sub("norm1"), groups, in, normEps),
		conv1: nn.LoadConv2d(l.Sub("conv1"), in, out, 3, 1, 1),
		norm2: nn.LoadGroupNorm(l.Sub("norm2"), groups, out, normEps),
		conv2: nn.LoadConv2d(l.Sub("conv2"), out, out, 3, 1, 1),
	}
	if in != out {
		r.shortcut = nn.LoadConv2d(l.Sub("conv_shortcut"), in, out, 1, 1, 0)
	}
	return r
}

func (r *resnetBlock) Forward(x *tensor.Tensor) *tensor.Tensor {
	h1, release := nn.NormConvScratch(r.norm1, r.conv1, x)
	defer release()
	h := nn.NormConv(r.norm2, r.conv2, h1)
	skip := x
	if r.shortcut != nil {
		skip = r.shortcut.Forward(x)
	}
	// output_scale_factor is 1, so no division.
	nn.AddInPlace(h, skip)
	return h
}

// attentionBlock is the mid-block Attention of the VAE: one head over all
// H·W positions, GroupNorm first, residual added (rescale factor 1).
type attentionBlock struct {
	channels          int
	norm              *nn.GroupNorm
	toQ, toK, toV, to *nn.Linear
}

func loadAttention(l weights.Loader, groups, ch int) *attentionBlock {
	return &attentionBlock{
		channels: ch,
		norm:     nn.LoadGroupNorm(l.Sub("group_norm"), groups, ch, normEps),
		toQ:      nn.LoadLinear(l.Sub("to_q"), ch, ch, true),
		toK:      nn.LoadLinear(l.Sub("to_k"), ch, ch, true),
		toV:      nn.LoadLinear(l.Sub("to_v"), ch, ch, true),
		to:       nn.LoadLinear(l.Sub("to_out.0"), ch, ch, true),
	}
}

func (a *attentionBlock) Forward(x *tensor.Tensor) *tensor.Tensor {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	tokens := nn.ToTokens(a.norm.Forward(x, false)) // [N, HW, C]
	q, k, v := a.toQ.Forward(tokens), a.toK.Forward(tokens), a.toV.Forward(tokens)
	// One head, so the head size is the whole channel count.
	scale := float32(1 / math.Sqrt(float64(c)))
	att := tensor.New(n, h*w, c)
	per := h * w * c
	for i := 0; i < n; i++ {
		o := nn.Attention(q.Data[i*per:(i+1)*per], k.Data[i*per:(i+1)*per], v.Data[i*per:(i+1)*per],
			h*w, h*w, c, 1, scale, false)
		copy(att.Data[i*per:], o)
	}
	out := nn.FromTokens(a.to.Forward(att), h, w)
	nn.AddInPlace(out, x)
	return out
}

// midBlock is UNetMidBlock2D as the VAE uses it: resnet, attention, resnet.
type midBlock struct {
	res1, res2 *resnetBlock
	attn       *attentionBlock
}

func loadMid(l weights.Loader, groups, ch int) *midBlock {
	return &midBlock{
		res1: loadResnet(l.Sub("resnets.0"), groups, ch, ch),
		attn: loadAttention(l.Sub("attentions.0"), groups, ch),
		res2: loadResnet(l.Sub("resnets.1"), groups, ch, ch),
	}
}

func (m *midBlock) Forward(x *tensor.Tensor) *tensor.Tensor {
	return m.res2.Forward(m.attn.Forward(m.res1.Forward(x)))
}

// downBlock is DownEncoderBlock2D: resnets, then (except at the deepest
// level) a stride-2 conv that halves the size.
type downBlock struct {
	resnets []*resnetBlock
	down    *nn.Conv2d // nil on the last block
}

func loadDown(l weights.Loader, groups, in, out, layers int, downsample bool) *downBlock {
	b := &downBlock{}
	for j := 0; j < layers; j++ {
		b.resnets = append(b.resnets, loadResnet(l.Subf("resnets.%d", j), groups, in, out))
		in = out
	}
	if downsample {
		// The encoder's Downsample2D has padding 0 and pads (0, 1, 0, 1)
		// itself, unlike the UNet's symmetric padding-1 conv.
		c := nn.LoadConv2d(l.Sub("downsamplers.0.conv"), out, out, 3, 2, 0)
		c.PadB, c.PadR = 1, 1
		b.down = c
	}
	return b
}

func (b *downBlock) Forward(x *tensor.Tensor) *tensor.Tensor {
	for _, r := range b.resnets {
		x = r.Forward(x)
	}
	if b.down != nil {
		x = b.down.Forward(x)
	}
	return x
}

// upBlock is UpDecoderBlock2D: resnets, then (except at full resolution)
// nearest x2 upsampling and a 3x3 conv.
type upBlock struct {
	resnets []*resnetBlock
	up      *nn.Conv2d // nil on the last block
}

func loadUp(l weights.Loader, groups, in, out, layers int, upsample bool) *upBlock {
	b := &upBlock{}
	for j := 0; j < layers; j++ {
		b.resnets = append(b.resnets, loadResnet(l.Subf("resnets.%d", j), groups, in, out))
		in = out
	}
	if upsample {
		b.up = nn.LoadConv2d(l.Sub("upsamplers.0.conv"), out, out, 3, 1, 1)
	}
	return b
}

func (b *upBlock) Forward(x *tensor.Tensor) *tensor.Tensor {
	for _, r := range b.resnets {
		x = r.Forward(x)
	}
	if b.up != nil {
		// The decoder always doubles (no skip tensors to match, unlike the
		// UNet), so sizes need not be multiples of anything.
		x = nn.UpsampleConv(b.up, x, 2*x.Shape[2], 2*x.Shape[3])
	}
	return x
}
