package unet

import (
	"fmt"
	"math"

	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

func sqrt(x float64) float64 { return math.Sqrt(x) }

// level is one resolution of the U-Net: resnets, each optionally followed
// by a spatial transformer, and a resampler (a strided conv going down, an
// upsample and conv coming up) unless it is the last of its path.
type level struct {
	resnets      []*resnetBlock
	attentions   []*spatialTransformer // empty for plain DownBlock2D/UpBlock2D
	downsample   *nn.Conv2d
	upsampleConv *nn.Conv2d
}

// UNet is diffusers' UNet2DConditionModel as configured by Stable Diffusion.
type UNet struct {
	cfg          Config
	timeLinear1  *nn.Linear
	timeLinear2  *nn.Linear
	addLinear1   *nn.Linear // SDXL's added conditioning (add_embedding); nil without
	addLinear2   *nn.Linear
	convIn       *nn.Conv2d
	down, up     []*level
	midResnet1   *resnetBlock
	midAttention *spatialTransformer
	midResnet2   *resnetBlock
	normOut      *nn.GroupNorm
	convOut      *nn.Conv2d
}

// Load builds the U-Net from weights named as in diffusers' unet folder.
func Load(cfg Config, l weights.Loader) (*UNet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ch := cfg.BlockOutChannels
	nLevels := len(ch)
	temb := 4 * ch[0]
	u := &UNet{
		cfg:         cfg,
		timeLinear1: nn.LoadLinear(l.Sub("time_embedding.linear_1"), ch[0], temb, true),
		timeLinear2: nn.LoadLinear(l.Sub("time_embedding.linear_2"), temb, temb, true),
		convIn:      nn.LoadConv2d(l.Sub("conv_in"), cfg.InChannels, ch[0], 3, 1, 1),
	}
	if cfg.TextTime() {
		u.addLinear1 = nn.LoadLinear(l.Sub("add_embedding.linear_1"), cfg.ProjectionClassEmbeddingsInputDim, temb, true)
		u.addLinear2 = nn.LoadLinear(l.Sub("add_embedding.linear_2"), temb, temb, true)
	}
	in := ch[0]
	for i, out := range ch {
		bl := l.Subf("down_blocks.%d", i)
		lv := &level{}
		cross, err := isCrossAttn(cfg.DownBlockTypes[i], "CrossAttnDownBlock2D", "DownBlock2D")
		if err != nil {
			return nil, err
		}
		for j := 0; j < cfg.LayersPerBlock; j++ {
			lv.resnets = append(lv.resnets, loadResnet(bl.Subf("resnets.%d", j), cfg, in, out, temb))
			if cross {
				lv.attentions = append(lv.attentions, loadSpatialTransformer(bl.Subf("attentions.%d", j), cfg, out, cfg.Heads(i), cfg.Depth(i)))
			}
			in = out
		}
		if i < nLevels-1 {
			lv.downsample = nn.LoadConv2d(bl.Sub("downsamplers.0.conv"), out, out, 3, 2, 1)
		}
		u.down = append(u.down, lv)
	}
	last := ch[nLevels-1]
	mid := l.Sub("mid_block")
	u.midResnet1 = loadResnet(mid.Sub("resnets.0"), cfg, last, last, temb)
	u.midAttention = loadSpatialTransformer(mid.Sub("attentions.0"), cfg, last, cfg.Heads(nLevels-1), cfg.Depth(nLevels-1))
	u.midResnet2 = loadResnet(mid.Sub("resnets.1"), cfg, last, last, temb)

	prev := last
	for i := 0; i < nLevels; i++ {
		r := nLevels - 1 - i // the level this up block mirrors
		out := ch[r]
		skipIn := ch[max(r-1, 0)]
		bl := l.Subf("up_blocks.%d", i)
		lv := &level{}
		cross, err := isCrossAttn(cfg.UpBlockTypes[i], "CrossAttnUpBlock2D", "UpBlock2D")
		if err != nil {
			return nil, err
		}
		for j := 0; j <= cfg.LayersPerBlock; j++ {
			resIn := out
			if j == 0 {
				resIn = prev
			}
			skip := out
			if j == cfg.LayersPerBlock {
				skip = skipIn
			}
			lv.resnets = append(lv.resnets, loadResnet(bl.Subf("resnets.%d", j), cfg, resIn+skip, out, temb))
			if cross {
				lv.attentions = append(lv.attentions, loadSpatialTransformer(bl.Subf("attentions.%d", j), cfg, out, cfg.Heads(r), cfg.Depth(r)))
			}
		}
		if i < nLevels-1 {
			lv.upsampleConv = nn.LoadConv2d(bl.Sub("upsamplers.0.conv"), out, out, 3, 1, 1)
		}
		u.up = append(u.up, lv)
		prev = out
	}
	u.normOut = nn.LoadGroupNorm(l.Sub("conv_norm_out"), cfg.NormNumGroups, ch[0], cfg.NormEps)
	u.convOut = nn.LoadConv2d(l.Sub("conv_out"), ch[0], cfg.OutChannels, 3, 1, 1)
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("unet: %w", err)
	}
	return u, nil
}

func isCrossAttn(typ, cross, plain string) (bool, error) {
	switch typ {
	case cross:
		return true, nil
	case plain:
		return false, nil
	}
	return false, fmt.Errorf("unet: unsupported block type %q", typ)
}

// Config returns the configuration the U-Net was built with.
func (u *UNet) Config() Config { return u.cfg }

// TimestepEmbedding is the sinusoidal embedding of each timestep, [cos, sin]
// (flip_sin_to_cos), computed in float32 as diffusers does.
func (u *UNet) TimestepEmbedding(ts []float64) *tensor.Tensor {
	return sinusoidal(ts, u.cfg.BlockOutChannels[0], u.cfg.FlipSinToCos, u.cfg.FreqShift)
}

// sinusoidal is diffusers' Timesteps projection: dim channels per value.
func sinusoidal(ts []float64, dim int, flip bool, shift float64) *tensor.Tensor {
	half := dim / 2
	e := tensor.New(len(ts), dim)
	negLog := float32(-math.Log(10000))
	for b, t := range ts {
		tf := float32(t)
		for i := 0; i < half; i++ {
			exponent := negLog * float32(i) / float32(float64(half)-shift)
			arg := tf * float32(math.Exp(float64(exponent)))
			s, c := float32(math.Sin(float64(arg))), float32(math.Cos(float64(arg)))
			if flip {
				s, c = c, s
			}
			e.Data[b*dim+i], e.Data[b*dim+half+i] = s, c
		}
	}
	return e
}

// Hook, when set, receives named intermediate results (for tests).
type Hook func(name string, t *tensor.Tensor)

// Conditioning is what the U-Net sees besides the latents and the
// timestep, one row per batch item.
type Conditioning struct {
	// Text is the text encoder's output the cross-attention layers read,
	// [N, tokens, cross_attention_dim] (encoder_hidden_states).
	Text *tensor.Tensor
	// Pooled and TimeIDs are SDXL's added conditioning: the pooled text
	// embedding [N, dim] and the size ids [N, 6] (original height and
	// width, crop top and left, target height and width), each embedded
	// like a timestep, joined to Pooled, projected and added to the time
	// embedding. Both nil for SD 1.x and 2.x, whose U-Nets take none.
	Pooled, TimeIDs *tensor.Tensor
}

// Forward predicts the noise for x [N, in, h, w] at timesteps t (one per
// batch row, or one for all) given cond. Latent sides need not be
// multiples of 8: each up level resizes to the skip tensor it joins, as
// diffusers does.
func (u *UNet) Forward(x *tensor.Tensor, t []float64, cond Conditioning, hook Hook) (*tensor.Tensor, error) {
	n := x.Shape[0]
	if len(x.Shape) != 4 || x.Shape[1] != u.cfg.InChannels {
		return nil, fmt.Errorf("unet: input shape %v, want [N, %d, h, w]", x.Shape, u.cfg.InChannels)
	}
	text := cond.Text
	if text == nil || len(text.Shape) != 3 || text.Shape[0] != n || text.Shape[2] != u.cfg.CrossAttentionDim {
		var shape []int
		if text != nil {
			shape = text.Shape
		}
		return nil, fmt.Errorf("unet: text conditioning shape %v, want [%d, tokens, %d]", shape, n, u.cfg.CrossAttentionDim)
	}
	if err := u.checkAdded(cond, n); err != nil {
		return nil, err
	}
	if len(t) == 1 && n > 1 {
		t = repeat(t[0], n)
	}
	if len(t) != n {
		return nil, fmt.Errorf("unet: %d timesteps for batch %d", len(t), n)
	}
	if hook == nil {
		hook = func(string, *tensor.Tensor) {}
	}
	tp := u.TimestepEmbedding(t)
	hook("time_proj", tp)
	h1 := u.timeLinear1.Forward(tp)
	nn.SiLU(h1.Data)
	temb := u.timeLinear2.Forward(h1)
	hook("time_embedding", temb)
	if u.addLinear1 != nil {
		aug := u.addedEmbedding(cond, hook)
		hook("add_embedding", aug)
		nn.AddInPlace(temb, aug)
	}
	// Every resnet applies SiLU to the embedding first; do it once.
	tembAct := temb.Clone()
	nn.SiLU(tembAct.Data)

	h := u.convIn.Forward(x)
	hook("conv_in", h)
	skips := []*tensor.Tensor{h}
	for i, lv := range u.down {
		for j, r := range lv.resnets {
			h = r.forward(h, tembAct)
			if lv.attentions != nil {
				h = lv.attentions[j].forward(h, text)
			}
			skips = append(skips, h)
		}
		if lv.downsample != nil {
			h = lv.downsample.Forward(h)
			skips = append(skips, h)
		}
		hook(fmt.Sprintf("down_blocks.%d", i), h)
	}
	h = u.midResnet1.forward(h, tembAct)
	h = u.midAttention.forward(h, text)
	h = u.midResnet2.forward(h, tembAct)
	hook("mid_block", h)
	for i, lv := range u.up {
		for j, r := range lv.resnets {
			skip := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			h = r.forward(nn.ConcatChannels(h, skip), tembAct)
			if lv.attentions != nil {
				h = lv.attentions[j].forward(h, text)
			}
		}
		if lv.upsampleConv != nil {
			next := skips[len(skips)-1]
			h = nn.UpsampleConv(lv.upsampleConv, h, next.Shape[2], next.Shape[3])
		}
		hook(fmt.Sprintf("up_blocks.%d", i), h)
	}
	h = u.normOut.Forward(h, true)
	hook("conv_norm_out", h)
	return u.convOut.Forward(h), nil
}

// checkAdded checks the added conditioning against the U-Net's kind.
func (u *UNet) checkAdded(cond Conditioning, n int) error {
	if !u.cfg.TextTime() {
		if cond.Pooled != nil || cond.TimeIDs != nil {
			return fmt.Errorf("unet: this U-Net takes no pooled text embedding or size ids")
		}
		return nil
	}
	p, ids := cond.Pooled, cond.TimeIDs
	if p == nil || ids == nil || len(p.Shape) != 2 || len(ids.Shape) != 2 || p.Shape[0] != n || ids.Shape[0] != n ||
		ids.Shape[1]*u.cfg.AdditionTimeEmbedDim+p.Shape[1] != u.cfg.ProjectionClassEmbeddingsInputDim {
		var ps, is []int
		if p != nil {
			ps = p.Shape
		}
		if ids != nil {
			is = ids.Shape
		}
		return fmt.Errorf("unet: added conditioning: pooled %v and size ids %v do not make [%d, %d]", ps, is, n, u.cfg.ProjectionClassEmbeddingsInputDim)
	}
	return nil
}

// addedEmbedding is SDXL's add_embedding(cat(text_embeds, add_time_proj(time_ids))).
func (u *UNet) addedEmbedding(cond Conditioning, hook Hook) *tensor.Tensor {
	n, ids := cond.Pooled.Shape[0], cond.TimeIDs
	vals := make([]float64, len(ids.Data))
	for i, v := range ids.Data {
		vals[i] = float64(v)
	}
	proj := sinusoidal(vals, u.cfg.AdditionTimeEmbedDim, u.cfg.FlipSinToCos, u.cfg.FreqShift)
	hook("add_time_proj", proj)
	pd, td := cond.Pooled.Shape[1], ids.Shape[1]*u.cfg.AdditionTimeEmbedDim
	in := tensor.New(n, pd+td)
	for b := range n {
		copy(in.Data[b*(pd+td):], cond.Pooled.Data[b*pd:(b+1)*pd])
		copy(in.Data[b*(pd+td)+pd:], proj.Data[b*td:(b+1)*td])
	}
	h := u.addLinear1.Forward(in)
	nn.SiLU(h.Data)
	return u.addLinear2.Forward(h)
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
