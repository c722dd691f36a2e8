package pipeline

import (
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
)

// The networks of a loaded pipeline, for code that drives the stages itself
// (imggen bench times each one). Generate does not need them.

// TextModel returns the model's first text encoder.
func (p *Pipeline) TextModel() *textenc.TextModel { return p.texts[0].model }

// TextModels returns every text encoder of the model, in order.
func (p *Pipeline) TextModels() []*textenc.TextModel {
	ms := make([]*textenc.TextModel, len(p.texts))
	for i, te := range p.texts {
		ms[i] = te.model
	}
	return ms
}

// UNet returns the noise predictor.
func (p *Pipeline) UNet() *unet.UNet { return p.unet }

// VAE returns the autoencoder.
func (p *Pipeline) VAE() *vae.VAE { return p.vae }
