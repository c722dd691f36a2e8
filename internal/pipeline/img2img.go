package pipeline

import (
	"fmt"
	"image"
	"image/color"
	"slices"
	"time"

	"github.com/imggen/imggen/internal/sampler"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/torchrng"
	"github.com/imggen/imggen/internal/vae"
)

// ImageTensor converts img to the VAE encoder's input as diffusers'
// VaeImageProcessor does: float32 [1, 3, H, W], uint8/255*2-1 per channel.
// Grey and palette images are expanded to RGB; alpha is dropped (the colour
// of a translucent pixel is kept, as PIL's convert("RGB") does).
func ImageTensor(img image.Image) *tensor.Tensor {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	t := tensor.New(1, 3, h, w)
	plane := w * h
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl := rgb8(img, b.Min.X+x, b.Min.Y+y)
			for c, v := range [3]uint8{r, g, bl} {
				t.Data[c*plane+y*w+x] = float32(float32(v)/255)*2 - 1
			}
		}
	}
	return t
}

// MaskTensor converts a mask image to [1, 1, H, W] in [0, 1]: its grey
// level (PIL's convert("L") weights for colour images) / 255. White is
// repainted.
func MaskTensor(img image.Image) *tensor.Tensor {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	t := tensor.New(1, 1, h, w)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var l uint8
			if g, ok := img.(*image.Gray); ok {
				l = g.GrayAt(b.Min.X+x, b.Min.Y+y).Y
			} else {
				r, gg, bl := rgb8(img, b.Min.X+x, b.Min.Y+y)
				l = uint8((19595*uint32(r) + 38470*uint32(gg) + 7471*uint32(bl) + 1<<15) >> 16)
			}
			t.Data[y*w+x] = float32(l) / 255
		}
	}
	return t
}

// rgb8 is the straight (not premultiplied) 8-bit colour of a pixel.
func rgb8(img image.Image, x, y int) (r, g, b uint8) {
	switch m := img.(type) {
	case *image.RGBA:
		if c := m.RGBAAt(x, y); c.A == 255 {
			return c.R, c.G, c.B
		}
	case *image.NRGBA:
		c := m.NRGBAAt(x, y)
		return c.R, c.G, c.B
	case *image.Gray:
		v := m.GrayAt(x, y).Y
		return v, v, v
	}
	c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
	return c.R, c.G, c.B
}

// FitImages sets req's init image (and mask, when not nil) from decoded
// pictures. A width or height of 0 takes the init image's, rounded down to
// a multiple of 8; a picture of another size is scaled to cover the output
// and centre-cropped (ResizeCrop) when resize is set, and an error
// otherwise. The mask must be the init image's size.
func FitImages(req *Request, init, mask image.Image, resize bool) error {
	iw, ih := init.Bounds().Dx(), init.Bounds().Dy()
	if mask != nil {
		if mw, mh := mask.Bounds().Dx(), mask.Bounds().Dy(); mw != iw || mh != ih {
			return fmt.Errorf("the mask is %dx%d but the init image is %dx%d; they must be the same size", mw, mh, iw, ih)
		}
	}
	if req.Width == 0 {
		req.Width = iw / 8 * 8
	}
	if req.Height == 0 {
		req.Height = ih / 8 * 8
	}
	if req.Width < 8 || req.Height < 8 {
		return fmt.Errorf("the init image is %dx%d; it must be at least 8x8", iw, ih)
	}
	if iw != req.Width || ih != req.Height {
		if !resize {
			return fmt.Errorf("the init image is %dx%d but the output is %dx%d (sizes are multiples of 8); pass --resize to scale and crop it, or set -W/-H to match",
				iw, ih, req.Width, req.Height)
		}
		init = ResizeCrop(init, req.Width, req.Height)
		if mask != nil {
			mask = ResizeCrop(mask, req.Width, req.Height)
		}
	}
	req.InitImage = ImageTensor(init)
	if mask != nil {
		req.Mask = MaskTensor(mask)
	}
	return nil
}

// validateImage checks the image-to-image fields.
func (r Request) validateImage() error {
	if r.InitImage == nil {
		switch {
		case r.Mask != nil:
			return fmt.Errorf("a mask needs an init image")
		case r.Strength != 0:
			return fmt.Errorf("strength needs an init image")
		}
		return nil
	}
	if !(r.Strength > 0 && r.Strength <= 1) {
		return fmt.Errorf("strength must be in (0, 1], got %g", r.Strength)
	}
	if want := []int{1, 3, r.Height, r.Width}; !slices.Equal(r.InitImage.Shape, want) {
		return fmt.Errorf("init image is %v, want %v (%dx%d)", r.InitImage.Shape, want, r.Width, r.Height)
	}
	if r.Mask != nil {
		if want := []int{1, 1, r.Height, r.Width}; !slices.Equal(r.Mask.Shape, want) {
			return fmt.Errorf("mask is %v, want %v (%dx%d)", r.Mask.Shape, want, r.Width, r.Height)
		}
	}
	if sampler.StrengthStart(r.Steps, r.Strength) >= r.Steps {
		return fmt.Errorf("strength %g with %d steps runs no step (int(steps*strength) is 0)", r.Strength, r.Steps)
	}
	return nil
}

// maskLatent binarises the mask (>= 0.5 is 1) and takes every 8th pixel,
// F.interpolate's nearest downsampling: m[i, j] = mask[8i, 8j].
func maskLatent(mask *tensor.Tensor, h, w int) []float32 {
	W := mask.Shape[3]
	out := make([]float32, h*w)
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			if mask.Data[8*i*W+8*j] >= 0.5 {
				out[i*w+j] = 1
			}
		}
	}
	return out
}

// imageStart is what an image-to-image run starts from.
type imageStart struct {
	init  []float32 // scaling_factor * posterior sample (init_latents / image_latents); nil when unused
	noise []float32 // the starting noise
	start []float32 // the latents entering the loop
	cond  []float32 // 9-channel inpainting models: the mask and masked-image latents the U-Net sees
}

// startImage makes the random draws of diffusers' img2img and inpaint
// pipelines, in their order: the VAE posterior sample of the init image
// (skipped by a 9-channel inpainting model at full strength, which starts
// from noise alone), the noise, and for inpainting the posterior sample of
// the masked image, which a 4-channel U-Net does not use but which still
// advances the generator. It returns s started part-way for the strength.
func (p *Pipeline) startImage(req Request, s sampler.Sampler, rng *torchrng.Generator, tr *Trace) (sampler.Sampler, imageStart, error) {
	var st imageStart
	inpaint9 := p.inpaintModel()
	full := req.Strength == 1
	h, w := req.Height/8, req.Width/8
	n := p.vae.Config().LatentChannels * h * w
	if !(inpaint9 && full) {
		start := time.Now()
		mean, logvar := p.vae.Encode(req.InitImage)
		tr.stage("vae_encode", start)
		st.init = p.vae.Scale(vae.Sample(mean, logvar, rng.Normal(mean.Numel()))).Data
	}
	st.noise = rng.Normal(n)
	switch {
	case inpaint9:
		st.cond = p.inpaintCondition(maskedImage(req.InitImage, req.Mask), req.Mask, h, w, rng)
	case req.Mask != nil:
		rng.Normal(n) // masked_image_latents' posterior sample
	}
	tr.InitLatents(st.init, st.noise)
	s = sampler.Skip(s, sampler.StrengthStart(req.Steps, req.Strength))
	if (req.Mask != nil || inpaint9) && full {
		// The inpaint pipeline starts from pure noise at full strength.
		st.start = make([]float32, len(st.noise))
		sigma := s.InitNoiseSigma()
		for i, v := range st.noise {
			st.start[i] = v * sigma
		}
	} else {
		st.start = s.AddNoise(st.init, st.noise, 0)
	}
	tr.StartLatents(st.start)
	return s, st, nil
}

// inpaintModel reports whether the U-Net is an inpainting one: its input is
// the latents, the mask and the masked image's latents (4 + 1 + 4 channels
// for Stable Diffusion's inpainting checkpoints).
func (p *Pipeline) inpaintModel() bool {
	return p.unet.Config().InChannels == 2*p.vae.Config().LatentChannels+1
}

// maskedImage is the init image with the part to repaint blanked (0, mid
// grey), as diffusers' inpaint pipeline makes it: image * (mask < 0.5). A
// nil mask repaints everything.
func maskedImage(img, mask *tensor.Tensor) *tensor.Tensor {
	out := tensor.New(img.Shape...)
	if mask == nil {
		return out
	}
	plane := len(mask.Data)
	for c := 0; c < img.Shape[1]; c++ {
		for i, m := range mask.Data {
			if m < 0.5 {
				out.Data[c*plane+i] = img.Data[c*plane+i]
			}
		}
	}
	return out
}

// inpaintCondition is what a 9-channel U-Net gets beside the latents: the
// mask at latent size (nil: all 1, repaint everything) and the scaled
// latents of the masked image, a posterior sample when rng is given (the
// inpaint pipeline's draw) and the posterior mean otherwise.
func (p *Pipeline) inpaintCondition(masked, mask *tensor.Tensor, h, w int, rng *torchrng.Generator) []float32 {
	var m []float32
	if mask != nil {
		m = maskLatent(mask, h, w)
	} else {
		m = make([]float32, h*w)
		for i := range m {
			m[i] = 1
		}
	}
	mean, logvar := p.vae.Encode(masked)
	z := mean
	if rng != nil {
		z = vae.Sample(mean, logvar, rng.Normal(mean.Numel()))
	}
	return append(m, p.vae.Scale(z).Data...)
}
