package pipeline

import (
	"context"
	"fmt"
	"image"
	"math"
	"runtime/debug"
	"sync"
	"time"

	"github.com/imggen/imggen/internal/lora"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/sampler"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/torchrng"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

// Pipeline holds a loaded model, ready to generate any number of images.
// It serves concurrent Generate calls: the networks keep no state between
// calls and the weights are only read, so each call gives the bits it gives
// alone. The thread count is process-wide (SetThreads): n concurrent calls
// run up to n times that many goroutines.
type Pipeline struct {
	Model     *model.Model
	opts      Options
	texts     []textEncoder // the model's text encoders, in order
	unet      *unet.UNet
	vae       *vae.VAE
	scheduler sampler.Config
	loras     *loras
}

// Options configure a Pipeline.
type Options struct {
	// ReleaseWeights hands each network's mapped weight pages back to the
	// operating system as soon as a run is done with them (the text
	// encoder's after encoding, the U-Net's before the decode), which
	// lowers the peak memory of one image. The next image then reads them
	// from disk again, so a batch leaves it off.
	ReleaseWeights bool
	// Embeddings are textual-inversion embeddings the prompts may use.
	Embeddings []Embedding
	// MergeLoRAs applies LoRAs by adding them into copies of the matrices
	// they touch (peft's fuse_lora) instead of as low-rank side paths:
	// the same speed as no LoRA, but each switch costs the touched
	// matrices' size in work and memory. For measurements and for
	// matching fused references.
	MergeLoRAs bool
	// Weights, when set, wraps each network's weight source before the
	// network is built; component is the diffusers folder name ("unet",
	// "vae", "text_encoder", "text_encoder_2", ...). It is the extension
	// point of add-ons that change weights, such as a LoRA merged into the
	// matrices it touches. A wrapper should forward weights.RawSource and
	// weights.Releaser for the tensors it leaves alone, so that they stay
	// zero-copy views of the mapped file.
	Weights func(component string, src weights.Source) weights.Source
}

// source is the weight source of a component, wrapped as opts ask.
func (opts Options) source(component string, src weights.Source) weights.Source {
	if opts.Weights == nil {
		return src
	}
	return opts.Weights(component, src)
}

// textEncoder is one text encoder ready to run, with its tokenizer.
type textEncoder struct {
	tokenizer *textenc.Tokenizer
	model     *textenc.TextModel
	weights   weights.Source // the model's own, whose mapped pages release drops
	// penultimate and pooled are model.TextEncoder's: SDXL's use.
	penultimate, pooled bool
}

// New builds the networks of m.
func New(m *model.Model, opts Options) (*Pipeline, error) {
	if len(m.TextEncoders) == 0 {
		return nil, fmt.Errorf("the model has no text encoder")
	}
	var texts []textEncoder
	layers := map[string]weights.Layers{"unet": {}}
	for i, te := range m.TextEncoders {
		name := "text_encoder"
		if i > 0 {
			name = fmt.Sprintf("text_encoder_%d", i+1)
		}
		src := opts.source(name, te.Weights)
		layers[name] = weights.Layers{}
		tm, err := textenc.LoadTextModel(te.Config, weights.NewLoader(src).Recording(layers[name]))
		if err != nil {
			return nil, err
		}
		texts = append(texts, textEncoder{textenc.NewCLIPTokenizer(te.PadID), tm, te.Weights, te.Penultimate, te.Pooled})
	}
	u, err := unet.Load(m.UNet, weights.NewLoader(opts.source("unet", m.UNetWeights)).Recording(layers["unet"]))
	if err != nil {
		return nil, err
	}
	v, err := vae.Load(m.VAE, weights.NewLoader(opts.source("vae", m.VAEWeights)))
	if err != nil {
		return nil, err
	}
	sched := sampler.DefaultConfig()
	if m.Scheduler != nil {
		if sched, err = sampler.ParseConfig(m.Scheduler); err != nil {
			return nil, fmt.Errorf("scheduler config: %w", err)
		}
	}
	ls := &loras{layers: layers, merge: opts.MergeLoRAs}
	ls.targets = sync.OnceValues(func() ([]lora.Target, error) { return loraTargets(m, layers) })
	p := &Pipeline{Model: m, opts: opts, texts: texts, unet: u, vae: v, scheduler: sched, loras: ls}
	if err := p.setEmbeddings(opts.Embeddings); err != nil {
		return nil, err
	}
	return p, nil
}

// Tokenizer returns the tokenizer of the model's first text encoder.
func (p *Pipeline) Tokenizer() *textenc.Tokenizer { return p.texts[0].tokenizer }

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

// hooks returns tr with every nil hook (or a nil tr) replaced by one that
// does nothing, so that a run calls its hooks unconditionally.
func (tr *Trace) hooks() *Trace {
	h := Trace{}
	if tr != nil {
		h = *tr
	}
	if h.Context == nil {
		h.Context = func(*tensor.Tensor) {}
	}
	if h.InitialLatent == nil {
		h.InitialLatent = func([]float32) {}
	}
	if h.InitLatents == nil {
		h.InitLatents = func(_, _ []float32) {}
	}
	if h.StartLatents == nil {
		h.StartLatents = func([]float32) {}
	}
	if h.InpaintCondition == nil {
		h.InpaintCondition = func([]float32) {}
	}
	if h.UNetOutput == nil {
		h.UNetOutput = func(int, float64, *tensor.Tensor, time.Duration) {}
	}
	if h.Step == nil {
		h.Step = func(int, []float32, []float32) {}
	}
	if h.Decoded == nil {
		h.Decoded = func(*tensor.Tensor) {}
	}
	if h.Stage == nil {
		h.Stage = func(string, time.Duration) {}
	}
	return &h
}

// stage reports the wall time of a stage that began at start.
func (tr *Trace) stage(name string, start time.Time) { tr.Stage(name, time.Since(start)) }

// Generate makes one image. It checks ctx between sampler steps and
// returns ctx.Err() when cancelled; progress (if set) is told after each step.
func (p *Pipeline) Generate(ctx context.Context, req Request, progress func(step, total int)) (*image.RGBA, error) {
	return p.GenerateTrace(ctx, req, progress, nil)
}

// GenerateTrace is Generate reporting to tr along the way: encode the
// prompts, prepare the latents, denoise, decode.
func (p *Pipeline) GenerateTrace(ctx context.Context, req Request, progress func(step, total int), tr *Trace) (img *image.RGBA, err error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	err = p.loras.with(req.LoRAs, func() error {
		img, err = p.generate(ctx, req, progress, tr)
		return err
	})
	return img, err
}

// generate is GenerateTrace with the request's LoRAs applied.
func (p *Pipeline) generate(ctx context.Context, req Request, progress func(step, total int), tr *Trace) (*image.RGBA, error) {
	tr = tr.hooks()
	// The prompt and an init image are encoded in float32, the U-Net and
	// the decoder run at the request's precision; the precision is process
	// wide, so each phase holds it (concurrent calls at another precision
	// wait for the phase to end).
	release := nn.UsePrecision(nn.Float32)
	cond, err := p.conditioning(req, tr)
	if err != nil {
		release()
		return nil, err
	}
	l, err := p.prepareLatents(req, tr)
	release()
	if err != nil {
		return nil, err
	}
	defer nn.UsePrecision(req.precision())()
	// In bfloat16 each stage keeps its layers' packed weights while it runs.
	holdPacks := func() (release func()) {
		if req.precision() == nn.BFloat16 {
			return nn.HoldBF16Packs()
		}
		return func() {}
	}
	releasePacks := holdPacks()
	x, err := p.denoise(ctx, l, cond, float32(req.CFGScale), progress, tr)
	releasePacks()
	if err != nil {
		return nil, err
	}
	defer holdPacks()()
	return p.decode(x, l, req.tiled(), tr)
}

// conditioning encodes the prompt (and, with guidance, the negative prompt
// first) into what the U-Net is conditioned on, one row each: the text
// context, and for SDXL the pooled embedding and the size ids.
func (p *Pipeline) conditioning(req Request, tr *Trace) (unet.Conditioning, error) {
	start := time.Now()
	cond, err := p.encode(req, req.CFGScale > 1)
	if err != nil {
		return unet.Conditioning{}, err
	}
	tr.stage("text_encoder", start)
	for _, te := range p.texts {
		p.release(te.weights)
	}
	if p.unet.Config().TextTime() {
		ids := req.SizeIDs()
		rows := cond.Text.Shape[0]
		cond.TimeIDs = tensor.New(rows, len(ids))
		for r := range rows {
			for j, v := range ids {
				cond.TimeIDs.Data[r*len(ids)+j] = float32(v)
			}
		}
	}
	tr.Context(cond.Text)
	return cond, nil
}

// latents is the latent side of a run, planned once: the sampler, where
// the loop starts, and what inpainting adds to each step.
type latents struct {
	s        sampler.Sampler
	rng      *torchrng.Generator                // the seeded generator of every draw
	x        []float32                          // the latents entering the loop
	channels int                                // latent channels
	h, w     int                                // latent size
	extra    []float32                          // a 9-channel U-Net's mask and masked-image latents, appended to its input
	blend    func(i int, x []float32) []float32 // 4-channel inpainting: keep the unmasked part after step i
}

// prepareLatents makes the sampler and the starting latents with
// diffusers' draws: pure noise for text to image, the noised init image
// for image to image (startImage), and picks the inpainting strategy.
func (p *Pipeline) prepareLatents(req Request, tr *Trace) (*latents, error) {
	s, err := sampler.New(req.Sampler, req.schedulerConfig(p.scheduler), req.samplerOptions())
	if err != nil {
		return nil, err
	}
	lat, lc := p.vae.Config().LatentChannels, p.unet.Config().InChannels
	inpaint9 := p.inpaintModel()
	if lc != lat && !inpaint9 {
		return nil, fmt.Errorf("the U-Net takes %d input channels: neither the VAE's %d latent channels nor an inpainting model's %d", lc, lat, 2*lat+1)
	}
	l := &latents{s: s, channels: lat, h: req.Height / 8, w: req.Width / 8,
		rng: torchrng.New(uint64(req.Seed))} // two's complement, as torch.manual_seed takes negative seeds
	if req.InitImage != nil {
		var st imageStart
		if l.s, st, err = p.startImage(req, s, l.rng, tr); err != nil {
			return nil, err
		}
		l.x, l.extra = st.start, st.cond
		if req.Mask != nil && !inpaint9 {
			l.blend = maskBlend(maskLatent(req.Mask, l.h, l.w), st.init, st.noise, l.s)
		}
	} else {
		l.x = l.rng.Normal(lat * l.h * l.w)
		tr.InitialLatent(l.x)
		sigma := s.InitNoiseSigma()
		for i := range l.x {
			l.x[i] *= sigma
		}
		if inpaint9 {
			// Text to image with an inpainting model: repaint all of a blank
			// picture, as AUTOMATIC1111 conditions it (its mean, no draw).
			l.extra = p.inpaintCondition(tensor.New(1, 3, req.Height, req.Width), nil, l.h, l.w, nil)
		}
	}
	if l.extra != nil {
		tr.InpaintCondition(l.extra)
	}
	return l, nil
}

// denoise runs the sampler loop from l.x, checking ctx before each step.
func (p *Pipeline) denoise(ctx context.Context, l *latents, cond unet.Conditioning, scale float32, progress func(step, total int), tr *Trace) ([]float32, error) {
	x := l.x
	for i := 0; i < l.s.Len(); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		eps, err := p.predictNoise(l, x, i, cond, scale, tr)
		if err != nil {
			return nil, err
		}
		x = l.s.Step(eps, x, i, l.rng)
		tr.Step(i, eps, x)
		if l.blend != nil {
			x = l.blend(i, x)
		}
		if progress != nil {
			progress(i+1, l.s.Len())
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.release(p.Model.UNetWeights)
	return x, nil
}

// predictNoise evaluates the U-Net on the latents of step i (with a
// 9-channel model's extra input) once per row of cond, in one batch, and
// with guidance (two rows) combines the predictions.
func (p *Pipeline) predictNoise(l *latents, x []float32, i int, cond unet.Conditioning, scale float32, tr *Trace) ([]float32, error) {
	batch, lc := cond.Text.Shape[0], p.unet.Config().InChannels
	in := l.s.ScaleModelInput(x, i)
	unetIn := tensor.New(batch, lc, l.h, l.w)
	for b := 0; b < batch; b++ {
		row := unetIn.Data[b*lc*l.h*l.w:]
		copy(row, in)
		copy(row[len(in):], l.extra)
	}
	start := time.Now()
	t := l.s.Timestep(i)
	out, err := p.unet.Forward(unetIn, []float64{t}, cond, nil)
	if err != nil {
		return nil, err
	}
	tr.UNetOutput(i, t, out, time.Since(start))
	if batch == 1 {
		return out.Data[:len(x)], nil
	}
	return guide(out.Data[:len(x)], out.Data[len(x):], scale), nil
}

// guide is classifier-free guidance, uncond + scale·(cond − uncond), in
// float32 as diffusers computes it.
func guide(uncond, cond []float32, scale float32) []float32 {
	eps := make([]float32, len(uncond))
	for j := range eps {
		eps[j] = uncond[j] + scale*(cond[j]-uncond[j])
	}
	return eps
}

// maskBlend is 4-channel inpainting's step: where the mask is 0 the
// latents are the init image's, noised to the next timestep (clean after
// the last step).
func maskBlend(mask, init, noise []float32, s sampler.Sampler) func(i int, x []float32) []float32 {
	return func(i int, x []float32) []float32 {
		proper := init
		if i < s.Len()-1 {
			proper = s.AddNoise(init, noise, i+1)
		}
		blend := make([]float32, len(x))
		for c := 0; c < len(x)/len(mask); c++ {
			for j, m := range mask {
				k := c*len(mask) + j
				blend[k] = float32((1-m)*proper[k]) + float32(m*x[k])
			}
		}
		return blend
	}
}

// decode turns the final latents into the picture, whole or in tiles.
func (p *Pipeline) decode(x []float32, l *latents, tiled bool, tr *Trace) (*image.RGBA, error) {
	// The U-Net's pooled buffers are of no use to the decoder, nor the
	// decoder's to the next image's U-Net.
	nn.DropScratch()
	defer nn.DropScratch()
	if p.opts.ReleaseWeights {
		// The denoising loop's garbage would otherwise stay resident
		// beside the decoder's activations (one image: the peak memory).
		debug.FreeOSMemory()
	}
	start := time.Now()
	z := tensor.From(x, 1, l.channels, l.h, l.w)
	var img *tensor.Tensor
	if tiled {
		var err error
		if img, err = p.vae.DecodeTiled(z, vae.DefaultTiling); err != nil {
			return nil, err
		}
	} else {
		img = p.vae.Decode(z)
	}
	tr.stage("vae_decode", start)
	p.release(p.Model.VAEWeights)
	tr.Decoded(img)
	return ToImage(img), nil
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
// set when the options ask for it, so that the peak memory of a run is that
// of its largest stage, not of the sum.
func (p *Pipeline) release(src weights.Source) {
	if r, ok := src.(weights.Releaser); ok && p.opts.ReleaseWeights {
		r.Release()
	}
}
