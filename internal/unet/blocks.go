package unet

import (
	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// resnetBlock is diffusers' ResnetBlock2D: two GroupNorm-SiLU-conv stages,
// the time embedding added per channel between them, and a residual path
// that is a 1x1 conv when the channel count changes.
type resnetBlock struct {
	norm1, norm2 *nn.GroupNorm
	conv1, conv2 *nn.Conv2d
	timeEmbProj  *nn.Linear
	shortcut     *nn.Conv2d // nil when in == out
}

func loadResnet(l weights.Loader, cfg Config, in, out, tembDim int) *resnetBlock {
	r := &resnetBlock{
		norm1:       nn.LoadGroupNorm(l.Sub("norm1"), cfg.NormNumGroups, in, cfg.NormEps),
		conv1:       nn.LoadConv2d(l.Sub("conv1"), in, out, 3, 1, 1),
		timeEmbProj: nn.LoadLinear(l.Sub("time_emb_proj"), tembDim, out, true),
		norm2:       nn.LoadGroupNorm(l.Sub("norm2"), cfg.NormNumGroups, out, cfg.NormEps),
		conv2:       nn.LoadConv2d(l.Sub("conv2"), out, out, 3, 1, 1),
	}
	if in != out {
		r.shortcut = nn.LoadConv2d(l.Sub("conv_shortcut"), in, out, 1, 1, 0)
	}
	return r
}

// forward takes x [N, in, H, W] and the SiLU-activated time embedding
// [N, tembDim].
func (r *resnetBlock) forward(x, tembAct *tensor.Tensor) *tensor.Tensor {
	h1, release := nn.NormConvScratch(r.norm1, r.conv1, x)
	defer release()
	nn.AddPerChannel(h1, r.timeEmbProj.Forward(tembAct))
	h := nn.NormConv(r.norm2, r.conv2, h1)
	skip := x
	if r.shortcut != nil {
		skip = r.shortcut.Forward(x)
	}
	nn.AddInPlace(h, skip)
	return h
}

// attention is multi-head attention with bias-free q, k, v projections and
// a biased output projection (diffusers' Attention with to_out.0).
type attention struct {
	heads        int
	q, k, v, o   *nn.Linear
	dim, textDim int
}

func loadAttention(l weights.Loader, dim, textDim, heads int) *attention {
	return &attention{
		heads: heads, dim: dim, textDim: textDim,
		q: nn.LoadLinear(l.Sub("to_q"), dim, dim, false),
		k: nn.LoadLinear(l.Sub("to_k"), textDim, dim, false),
		v: nn.LoadLinear(l.Sub("to_v"), textDim, dim, false),
		o: nn.LoadLinear(l.Sub("to_out.0"), dim, dim, true),
	}
}

// forwardAdd attends from x [N, L, dim] to kv [N, Lc, textDim] (kv = x
// for self-attention) and adds the result into resid [N, L, dim]. The
// projections and the heads' output live in pooled scratch (they die
// here), so no zeroed tensor is made for them.
func (a *attention) forwardAdd(resid, x, kv *tensor.Tensor) {
	q, releaseQ := a.q.ForwardScratch(x)
	defer releaseQ()
	k, releaseK := a.k.ForwardScratch(kv)
	defer releaseK()
	v, releaseV := a.v.ForwardScratch(kv)
	defer releaseV()
	n, l, lc := x.Shape[0], x.Shape[1], kv.Shape[1]
	scale := float32(1 / sqrt(float64(a.dim/a.heads)))
	out, releaseOut := nn.ScratchTensor(n, l, a.dim)
	defer releaseOut()
	for i := 0; i < n; i++ {
		nn.AttentionInto(out.Data[i*l*a.dim:(i+1)*l*a.dim], q.Data[i*l*a.dim:(i+1)*l*a.dim],
			k.Data[i*lc*a.dim:(i+1)*lc*a.dim], v.Data[i*lc*a.dim:(i+1)*lc*a.dim], l, lc, a.dim, a.heads, scale, false)
	}
	a.o.ForwardAdd(resid, out)
}

// transformerBlock is BasicTransformerBlock: pre-LayerNorm self-attention,
// cross-attention to the text, and a GEGLU feed-forward, each residual.
type transformerBlock struct {
	norm1, norm2, norm3 *nn.LayerNorm
	attn1, attn2        *attention
	ffIn, ffOut         *nn.Linear // GEGLU projection to 2x inner, then back
	inner               int
}

func loadTransformerBlock(l weights.Loader, dim, textDim, heads int) *transformerBlock {
	inner := 4 * dim
	return &transformerBlock{
		norm1: nn.LoadLayerNorm(l.Sub("norm1"), dim, 1e-5),
		attn1: loadAttention(l.Sub("attn1"), dim, dim, heads),
		norm2: nn.LoadLayerNorm(l.Sub("norm2"), dim, 1e-5),
		attn2: loadAttention(l.Sub("attn2"), dim, textDim, heads),
		norm3: nn.LoadLayerNorm(l.Sub("norm3"), dim, 1e-5),
		ffIn:  nn.LoadLinear(l.Sub("ff.net.0.proj"), dim, 2*inner, true),
		ffOut: nn.LoadLinear(l.Sub("ff.net.2"), inner, dim, true),
		inner: inner,
	}
}

// forward adds the three residual branches into x (its caller's own
// tokens) and returns it.
func (b *transformerBlock) forward(x, text *tensor.Tensor) *tensor.Tensor {
	h, release := b.norm1.ForwardScratch(x)
	b.attn1.forwardAdd(x, h, h)
	release()
	h, release = b.norm2.ForwardScratch(x)
	b.attn2.forwardAdd(x, h, text)
	release()
	h, release = b.norm3.ForwardScratch(x)
	nn.FeedForwardAdd(x, h, b.ffIn, b.ffOut, b.inner)
	release()
	return x
}

// spatialTransformer is diffusers' Transformer2DModel: GroupNorm, project
// in, transformer blocks over the H·W tokens (one in SD 1.x and 2.x, up to
// ten in SDXL), project out, plus the input.
type spatialTransformer struct {
	norm            *nn.GroupNorm
	linear          bool // SD2: proj_in/proj_out are linear layers over tokens
	projInConv      *nn.Conv2d
	projOutConv     *nn.Conv2d
	projIn, projOut *nn.Linear
	blocks          []*transformerBlock
}

func loadSpatialTransformer(l weights.Loader, cfg Config, ch, heads, depth int) *spatialTransformer {
	s := &spatialTransformer{
		norm:   nn.LoadGroupNorm(l.Sub("norm"), cfg.NormNumGroups, ch, 1e-6),
		linear: cfg.UseLinearProjection,
	}
	for i := range depth {
		s.blocks = append(s.blocks, loadTransformerBlock(l.Subf("transformer_blocks.%d", i), ch, cfg.CrossAttentionDim, heads))
	}
	if s.linear {
		s.projIn = nn.LoadLinear(l.Sub("proj_in"), ch, ch, true)
		s.projOut = nn.LoadLinear(l.Sub("proj_out"), ch, ch, true)
	} else {
		s.projInConv = nn.LoadConv2d(l.Sub("proj_in"), ch, ch, 1, 1, 0)
		s.projOutConv = nn.LoadConv2d(l.Sub("proj_out"), ch, ch, 1, 1, 0)
	}
	return s
}

func (s *spatialTransformer) forward(x, text *tensor.Tensor) *tensor.Tensor {
	h, w := x.Shape[2], x.Shape[3]
	y := s.norm.Forward(x, false)
	var tokens *tensor.Tensor
	if s.linear {
		tokens = s.projIn.Forward(nn.ToTokens(y))
	} else {
		tokens = s.projInConv.ForwardTokens(y)
	}
	for _, b := range s.blocks {
		tokens = b.forward(tokens, text)
	}
	if s.linear {
		y = nn.FromTokens(s.projOut.Forward(tokens), h, w)
	} else {
		y = s.projOutConv.ForwardFromTokens(tokens, h, w)
	}
	nn.AddInPlace(y, x)
	return y
}
