package pipeline

import (
	"context"
	"fmt"
	"image"
	"math"
	"time"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/sampler"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/torchrng"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

// Pipeline holds a loaded model, ready to generate any number of images.
type Pipeline struct {
	Model     *model.Model
	tokenizer *textenc.Tokenizer
	text      *textenc.TextModel
	unet      *unet.UNet
	vae       *vae.VAE
	scheduler sampler.Config
}

// New builds the networks of m. The weights are widened to float32 here.
func New(m *model.Model) (*Pipeline, error) {
	text, err := textenc.LoadTextModel(m.Text, weights.NewLoader(m.TextWeights))
	if err != nil {
		return nil, err
	}
	u, err := unet.Load(m.UNet, weights.NewLoader(m.UNetWeights))
	if err != nil {
		return nil, err
	}
	v, err := vae.Load(m.VAE, weights.NewLoader(m.VAEWeights))
	if err != nil {
		return nil, err
	}
	sched := sampler.DefaultConfig()
	if m.Scheduler != nil {
		if sched, err = sampler.ParseConfig(m.Scheduler); err != nil {
			return nil, fmt.Errorf("scheduler config: %w", err)
		}
	}
	return &Pipeline{Model: m, tokenizer: textenc.NewCLIPTokenizer(m.PadID), text: text, unet: u, vae: v, scheduler: sched}, nil
}

// OwnSampler names the sampler the model's scheduler configuration asks
// for when it must run with it: distilled few-step models such as SD-Turbo
// ship a "trailing" timestep spacing with the scheduler they were
// distilled for. ok is false for ordinary models, where any sampler works.
func (p *Pipeline) OwnSampler() (name string, ok bool) {
	if p.scheduler.TimestepSpacing != "trailing" {
		return "", false
	}
	return sampler.NameForClass(p.scheduler.ClassName)
}

// Scheduler is the model's scheduler configuration (SD 1.5's when the
// model has none).
func (p *Pipeline) Scheduler() sampler.Config { return p.scheduler }

// DefaultSize is the model's native image size (U-Net sample size x 8).
func (p *Pipeline) DefaultSize() (w, h int) {
	s := p.unet.Config().SampleSize * 8
	if s <= 0 {
		s = 512
	}
	return s, s
}

// Tokenizer returns the model's tokenizer.
func (p *Pipeline) Tokenizer() *textenc.Tokenizer { return p.tokenizer }

// Trace, when non-nil, receives the tensors of a run as they are made and
// the time each stage took (for parity tests, benchmarks and debugging).
// Any field may be nil.
type Trace struct {
	Context       func(ctx *tensor.Tensor) // [B, 77, C], rows [uncond, cond] with guidance
	InitialLatent func(x []float32)        // generator draw 0 (text-to-image)
	// InitLatents (image-to-image) gets the scaled posterior sample of the
	// init image (diffusers' init_latents / image_latents) and the noise
	// (generator draws 0 and 1) before the starting latents are made from
	// them; a test may overwrite both in place to start from recorded tensors.
	InitLatents  func(init, noise []float32)
	StartLatents func(x []float32) // the latents entering the loop (image-to-image)
	// InpaintCondition gets what a 9-channel inpainting U-Net sees beside the
	// latents: the mask at latent size, then the masked image's latents.
	InpaintCondition func(cond []float32)
	UNetOutput       func(i int, t float64, out *tensor.Tensor, d time.Duration) // raw U-Net output of call i at timestep t, and its wall time
	Step             func(i int, noisePred, x []float32)                         // after sampler step i
	Decoded          func(img *tensor.Tensor)                                    // raw VAE output
	Stage            func(name string, d time.Duration)                          // "text_encoder", "vae_encode", "vae_decode"
}

func (tr *Trace) stage(name string, start time.Time) {
	if tr != nil && tr.Stage != nil {
		tr.Stage(name, time.Since(start))
	}
}

// Generate makes one image. It checks ctx between sampler steps and
// returns ctx.Err() when cancelled; progress (if set) is told after each step.
func (p *Pipeline) Generate(ctx context.Context, req Request, progress func(step, total int)) (*image.RGBA, error) {
	return p.GenerateTrace(ctx, req, progress, nil)
}

// GenerateTrace is Generate reporting to tr along the way.
func (p *Pipeline) GenerateTrace(ctx context.Context, req Request, progress func(step, total int), tr *Trace) (*image.RGBA, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	guided := req.CFGScale > 1
	start := time.Now()
	cond, err := p.encode(req, guided)
	if err != nil {
		return nil, err
	}
	tr.stage("text_encoder", start)
	release(p.Model.TextWeights)
	if tr != nil && tr.Context != nil {
		tr.Context(cond)
	}
	s, err := sampler.New(req.Sampler, req.schedulerConfig(p.scheduler), req.samplerOptions())
	if err != nil {
		return nil, err
	}
	lat, lc := p.vae.Config().LatentChannels, p.unet.Config().InChannels
	inpaint9 := p.inpaintModel()
	if lc != lat && !inpaint9 {
		return nil, fmt.Errorf("the U-Net takes %d input channels: neither the VAE's %d latent channels nor an inpainting model's %d", lc, lat, 2*lat+1)
	}
	h, w := req.Height/8, req.Width/8
	rng := torchrng.New(uint64(req.Seed)) // two's complement, as torch.manual_seed takes negative seeds
	var x, imageLatents, noise, mask, cond9 []float32
	if req.InitImage != nil {
		var st imageStart
		if s, st, err = p.startImage(req, s, rng, tr); err != nil {
			return nil, err
		}
		imageLatents, noise, x, cond9 = st.init, st.noise, st.start, st.cond
		if req.Mask != nil && !inpaint9 {
			mask = maskLatent(req.Mask, h, w)
		}
	} else {
		x = rng.Normal(lat * h * w)
		if tr != nil && tr.InitialLatent != nil {
			tr.InitialLatent(x)
		}
		sigma := s.InitNoiseSigma()
		for i := range x {
			x[i] *= sigma
		}
		if inpaint9 {
			// Text to image with an inpainting model: repaint all of a blank
			// picture, as AUTOMATIC1111 conditions it (its mean, no draw).
			cond9 = p.inpaintCondition(tensor.New(1, 3, req.Height, req.Width), nil, h, w, nil)
		}
	}
	if tr != nil && tr.InpaintCondition != nil && cond9 != nil {
		tr.InpaintCondition(cond9)
	}
	batch := 1
	if guided {
		batch = 2
	}
	g := float32(req.CFGScale)
	for i := 0; i < s.Len(); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in := s.ScaleModelInput(x, i)
		unetIn := tensor.New(batch, lc, h, w)
		for b := 0; b < batch; b++ {
			row := unetIn.Data[b*lc*h*w:]
			copy(row, in)
			copy(row[len(in):], cond9) // an inpainting U-Net's extra input channels
		}
		start := time.Now()
		out, err := p.unet.Forward(unetIn, []float64{s.Timestep(i)}, cond, nil)
		if err != nil {
			return nil, err
		}
		if tr != nil && tr.UNetOutput != nil {
			tr.UNetOutput(i, s.Timestep(i), out, time.Since(start))
		}
		eps := out.Data[:len(x)]
		if guided {
			// noise = uncond + g·(cond − uncond), rows [uncond, cond].
			uncond, text := out.Data[:len(x)], out.Data[len(x):]
			eps = make([]float32, len(x))
			for j := range eps {
				eps[j] = uncond[j] + g*(text[j]-uncond[j])
			}
		}
		x = s.Step(eps, x, i, rng)
		if tr != nil && tr.Step != nil {
			tr.Step(i, eps, x)
		}
		if mask != nil {
			// Inpainting: keep the init image's latents, noised to the next
			// timestep (clean after the last step), where the mask is 0.
			proper := imageLatents
			if i < s.Len()-1 {
				proper = s.AddNoise(imageLatents, noise, i+1)
			}
			blend := make([]float32, len(x))
			for j, m := range mask {
				for c := 0; c < lat; c++ {
					k := c*len(mask) + j
					blend[k] = float32((1-m)*proper[k]) + float32(m*x[k])
				}
			}
			x = blend
		}
		if progress != nil {
			progress(i+1, s.Len())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	release(p.Model.UNetWeights)
	start = time.Now()
	decoded := p.vae.Decode(tensor.From(x, 1, lat, h, w))
	tr.stage("vae_decode", start)
	release(p.Model.VAEWeights)
	if tr != nil && tr.Decoded != nil {
		tr.Decoded(decoded)
	}
	return ToImage(decoded), nil
}

// ToImage converts a decoded [1, 3, H, W] tensor in about [-1, 1] to 8-bit
// RGB as diffusers does: float32 x/2 + 0.5, clamp to [0, 1], times 255,
// round half to even.
func ToImage(t *tensor.Tensor) *image.RGBA {
	hh, ww := t.Shape[2], t.Shape[3]
	img := image.NewRGBA(image.Rect(0, 0, ww, hh))
	plane := hh * ww
	for y := 0; y < hh; y++ {
		for x := 0; x < ww; x++ {
			o := img.PixOffset(x, y)
			for c := 0; c < 3; c++ {
				v := t.Data[c*plane+y*ww+x]/2 + 0.5
				if v != v { // NaN: numpy's uint8 cast gives 0
					v = 0
				}
				v = min(max(v, 0), 1)
				img.Pix[o+c] = uint8(math.RoundToEven(float64(v * 255)))
			}
			img.Pix[o+3] = 255
		}
	}
	return img
}

// release lets a finished stage's memory-mapped weights leave the resident
// set (they are paged back in from the page cache when next used), so the
// peak memory of a run is that of its largest stage, not of the sum.
func release(src weights.Source) {
	if r, ok := src.(interface{ Release() }); ok {
		r.Release()
	}
}
