package vae

import (
	"fmt"
	"math"

	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/weights"
)

// VAE is diffusers' AutoencoderKL.
type VAE struct {
	cfg           Config
	encoder       *encoder
	decoder       *decoder
	quantConv     *nn.Conv2d // 1x1, 2·latent -> 2·latent, after the encoder
	postQuantConv *nn.Conv2d // 1x1, latent -> latent, before the decoder
}

// tracer receives named intermediate outputs (diffusers module names);
// tests compare them with the reference, nil elsewhere.
type tracer func(name string, t *tensor.Tensor)

func (f tracer) emit(name string, t *tensor.Tensor) {
	if f != nil {
		f(name, t)
	}
}

// Load builds every layer of the VAE from l, which is rooted at the VAE's
// own keys ("decoder.conv_in.weight", ...). Every tensor is read up front,
// so a missing or mis-shaped key fails here, not in the middle of a run.
func Load(cfg Config, l weights.Loader) (*VAE, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	lat := cfg.LatentChannels
	v := &VAE{
		cfg:           cfg,
		encoder:       loadEncoder(cfg, l.Sub("encoder")),
		quantConv:     nn.LoadConv2d(l.Sub("quant_conv"), 2*lat, 2*lat, 1, 1, 0),
		postQuantConv: nn.LoadConv2d(l.Sub("post_quant_conv"), lat, lat, 1, 1, 0),
		decoder:       loadDecoder(cfg, l.Sub("decoder")),
	}
	if err := l.Err(); err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	return v, nil
}

// Config returns the configuration the VAE was built with.
func (v *VAE) Config() Config { return v.cfg }

// Decode turns UNet-space latents [N, latent, h, w] into an image
// [N, out, 8h, 8w], roughly in [-1, 1] and not clamped.
func (v *VAE) Decode(latents *tensor.Tensor) *tensor.Tensor {
	return v.decode(latents, nil)
}

func (v *VAE) decode(latents *tensor.Tensor, trace tracer) *tensor.Tensor {
	// The pipeline divides in float32 (latents / scaling_factor), which is
	// not always the same as multiplying by the reciprocal.
	z := tensor.New(latents.Shape...)
	s := float32(v.cfg.ScalingFactor)
	for i, x := range latents.Data {
		z.Data[i] = x / s
	}
	z = v.postQuantConv.Forward(z)
	trace.emit("post_quant_conv", z)
	return v.decoder.Forward(z, trace)
}

// Encode turns an image [N, in, H, W] in [-1, 1] into the posterior's mean
// and log-variance [N, latent, H/8, W/8]; the log-variance is clamped to
// [-30, 20] as DiagonalGaussianDistribution does. H and W must be multiples
// of 8 (the pipeline rounds sizes down).
func (v *VAE) Encode(image *tensor.Tensor) (mean, logvar *tensor.Tensor) {
	mean, logvar, _ = v.encode(image, nil)
	return mean, logvar
}

func (v *VAE) encode(image *tensor.Tensor, trace tracer) (mean, logvar, moments *tensor.Tensor) {
	if len(image.Shape) != 4 || image.Shape[2]%8 != 0 || image.Shape[3]%8 != 0 {
		panic(fmt.Sprintf("vae: encode needs [N, C, H, W] with H, W multiples of 8, got %v", image.Shape))
	}
	h := v.encoder.Forward(image, trace)
	moments = v.quantConv.Forward(h)
	trace.emit("quant_conv", moments)

	// Channels 0..lat-1 are the mean, lat..2lat-1 the log-variance.
	n, lat := moments.Shape[0], v.cfg.LatentChannels
	px := moments.Shape[2] * moments.Shape[3]
	mean = tensor.New(n, lat, moments.Shape[2], moments.Shape[3])
	logvar = tensor.New(mean.Shape...)
	for i := 0; i < n; i++ {
		src := moments.Data[i*2*lat*px : (i+1)*2*lat*px]
		copy(mean.Data[i*lat*px:(i+1)*lat*px], src[:lat*px])
		lv := logvar.Data[i*lat*px : (i+1)*lat*px]
		for j, x := range src[lat*px:] {
			lv[j] = min(max(x, -30), 20)
		}
	}
	return mean, logvar, moments
}

// Std returns exp(0.5·logvar), the posterior's standard deviation.
func Std(logvar *tensor.Tensor) *tensor.Tensor {
	std := tensor.New(logvar.Shape...)
	for i, x := range logvar.Data {
		std.Data[i] = float32(math.Exp(float64(0.5 * x)))
	}
	return std
}

// Sample draws from the posterior: mean + exp(0.5·logvar)·noise, with noise
// from the caller's generator (diffusers' img2img samples, it does not use
// the mean alone). noise must have as many values as mean.
func Sample(mean, logvar *tensor.Tensor, noise []float32) *tensor.Tensor {
	if len(noise) != mean.Numel() {
		panic(fmt.Sprintf("vae: %d noise values for posterior %v", len(noise), mean.Shape))
	}
	std := Std(logvar)
	out := tensor.New(mean.Shape...)
	for i, m := range mean.Data {
		out.Data[i] = m + std.Data[i]*noise[i]
	}
	return out
}

// Scale multiplies VAE latents by scaling_factor to give UNet-space latents
// (the inverse of Decode's first step).
func (v *VAE) Scale(latents *tensor.Tensor) *tensor.Tensor {
	out := tensor.New(latents.Shape...)
	s := float32(v.cfg.ScalingFactor)
	for i, x := range latents.Data {
		out.Data[i] = x * s
	}
	return out
}

// encoder is diffusers' Encoder with double_z: pixels -> mean and logvar
// stacked on channels, at 1/8 of the size.
type encoder struct {
	convIn  *nn.Conv2d
	down    []*downBlock
	mid     *midBlock
	normOut *nn.GroupNorm
	convOut *nn.Conv2d
}

func loadEncoder(cfg Config, l weights.Loader) *encoder {
	ch, g := cfg.BlockOutChannels, cfg.NormNumGroups
	e := &encoder{convIn: nn.LoadConv2d(l.Sub("conv_in"), cfg.InChannels, ch[0], 3, 1, 1)}
	in := ch[0]
	for i, out := range ch {
		e.down = append(e.down, loadDown(l.Subf("down_blocks.%d", i), g, in, out, cfg.LayersPerBlock, i < len(ch)-1))
		in = out
	}
	last := ch[len(ch)-1]
	e.mid = loadMid(l.Sub("mid_block"), g, last)
	e.normOut = nn.LoadGroupNorm(l.Sub("conv_norm_out"), g, last, normEps)
	e.convOut = nn.LoadConv2d(l.Sub("conv_out"), last, 2*cfg.LatentChannels, 3, 1, 1)
	return e
}

func (e *encoder) Forward(x *tensor.Tensor, trace tracer) *tensor.Tensor {
	x = e.convIn.Forward(x)
	for i, b := range e.down {
		x = b.Forward(x)
		trace.emit(fmt.Sprintf("encoder.down_blocks.%d", i), x)
	}
	x = e.mid.Forward(x)
	trace.emit("encoder.mid_block", x)
	x = nn.NormConv(e.normOut, e.convOut, x)
	trace.emit("encoder", x)
	return x
}

// decoder is diffusers' Decoder: latents -> pixels, the encoder's levels in
// reverse, each up block one resnet deeper than a down block.
type decoder struct {
	convIn  *nn.Conv2d
	mid     *midBlock
	up      []*upBlock
	normOut *nn.GroupNorm
	convOut *nn.Conv2d
}

func loadDecoder(cfg Config, l weights.Loader) *decoder {
	ch, g := cfg.BlockOutChannels, cfg.NormNumGroups
	top := ch[len(ch)-1]
	d := &decoder{
		convIn: nn.LoadConv2d(l.Sub("conv_in"), cfg.LatentChannels, top, 3, 1, 1),
		mid:    loadMid(l.Sub("mid_block"), g, top),
	}
	in := top
	for i := range ch {
		out := ch[len(ch)-1-i]
		d.up = append(d.up, loadUp(l.Subf("up_blocks.%d", i), g, in, out, cfg.LayersPerBlock+1, i < len(ch)-1))
		in = out
	}
	d.normOut = nn.LoadGroupNorm(l.Sub("conv_norm_out"), g, ch[0], normEps)
	d.convOut = nn.LoadConv2d(l.Sub("conv_out"), ch[0], cfg.OutChannels, 3, 1, 1)
	return d
}

func (d *decoder) Forward(z *tensor.Tensor, trace tracer) *tensor.Tensor {
	x := d.convIn.Forward(z)
	trace.emit("decoder.conv_in", x)
	x = d.mid.Forward(x)
	trace.emit("decoder.mid_block", x)
	for i, b := range d.up {
		x = b.Forward(x)
		trace.emit(fmt.Sprintf("decoder.up_blocks.%d", i), x)
		nn.DropScratch() // the next level's buffers are four times as large
	}
	return nn.NormConv(d.normOut, d.convOut, x)
}
