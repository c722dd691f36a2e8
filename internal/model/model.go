// Package model opens a Stable Diffusion checkpoint, either an original
// single .safetensors file (LDM/CompVis key names) or a diffusers folder, and
// presents each component's weights by diffusers key name with its config.
//
// Nothing is read eagerly: weights stay in the memory-mapped files and are
// widened to float32 one tensor at a time when a layer asks for them.
// Pickle checkpoints (.ckpt, .pt, .bin, ...) are refused unread, since
// unpickling can run arbitrary code.
package model

import (
	"errors"
	"fmt"
	builtin "github.com/imggen/imggen/weights"
	"io/fs"
	"sort"
	"sync"

	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

// Layouts.
const (
	SingleFile = "single-file"
	Diffusers  = "diffusers"
)

// Model is an opened checkpoint. Its weight sources read from memory-mapped
// files, so Close it when done (after the layers have loaded their weights).
type Model struct {
	Name   string // file name without .safetensors, or the folder's base name
	Path   string
	Layout string  // SingleFile or Diffusers
	Family *Family // SD1, SD2 or SDXL

	UNet unet.Config
	VAE  vae.Config
	// TextEncoders are the model's text encoders, in the order their
	// outputs are joined (one for SD 1.x and 2.x, two for SDXL).
	TextEncoders []TextEncoder
	// ZerosForNoNegative: with guidance and no negative prompt given (not
	// even ""), the unconditional context and pooled embedding are zeros
	// rather than the encoding of "" (diffusers' force_zeros_for_empty_prompt,
	// which SDXL's pipelines default to).
	ZerosForNoNegative bool
	// Scheduler is scheduler/scheduler_config.json when the folder has one,
	// else nil (the caller uses its defaults).
	Scheduler []byte

	// Weights by diffusers key name, component-local; the dynamic type is
	// *Component.
	UNetWeights, VAEWeights weights.Source

	hashFn    func() (string, error)
	hashOnce  sync.Once
	hash      string
	hashErr   error
	files     []*safetensors.File
	closeOnce sync.Once
	closeErr  error
}

// Options change how Load opens a model.
type Options struct {
	// VAE, when set, is a .safetensors file whose autoencoder replaces the
	// checkpoint's (see ReplaceVAE).
	VAE string
}

// Load opens the checkpoint at path (a .safetensors file or a diffusers
// folder) and checks that it is an architecture this program runs.
//
// The path "builtin" (Builtin) is the model embedded in the binary; a file or
// folder of that name is reached as ./builtin.
func Load(path string, opts Options) (*Model, error) {
	var m *Model
	if path == Builtin {
		var err error
		if m, err = LoadFS(builtin.FS(), builtin.Name); err != nil {
			return nil, err
		}
	} else {
		o, err := open(path)
		if err != nil {
			return nil, err
		}
		if m, err = check(o, path); err != nil {
			return nil, err
		}
	}
	if opts.VAE != "" {
		if err := m.ReplaceVAE(opts.VAE); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// Builtin is the model name that selects the built-in model.
const Builtin = builtin.Name

// LoadFS opens a diffusers model folder held in fsys (the built-in model
// embedded in the binary) by the same path as a folder on disk; name stands
// for the folder in messages and becomes the model's Name and Path.
func LoadFS(fsys fs.FS, name string) (*Model, error) {
	o, err := openDiffusers(folder{fsys: fsys, name: name})
	if err != nil {
		return nil, err
	}
	return check(o, name)
}

// check refuses what this program cannot run and builds the Model.
func check(o *opened, path string) (*Model, error) {
	fail := func(err error) (*Model, error) {
		o.close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if o.problem != "" {
		return fail(errors.New(o.problem))
	}
	if o.cfgErr != nil {
		return fail(o.cfgErr)
	}
	if err := o.validate(); err != nil {
		return fail(err)
	}
	m := &Model{
		Name: o.name, Path: path, Layout: o.layout, Family: o.family,
		UNet: o.unet, VAE: o.vae, Scheduler: o.scheduler,
		UNetWeights: o.comps[compUNet], VAEWeights: o.comps[compVAE],
		ZerosForNoNegative: o.family.forceZeros && !o.keepZeros,
		hashFn:             o.hash, files: o.files,
	}
	xl := o.family.penultimate
	m.TextEncoders = []TextEncoder{{Config: o.text, Weights: o.comps[compText], PadID: o.padID, Penultimate: xl}}
	if o.comps[compText2] != nil {
		m.TextEncoders = append(m.TextEncoders, TextEncoder{Config: o.text2, Weights: o.comps[compText2], PadID: o.pad2, Penultimate: xl, Pooled: xl})
	}
	return m, nil
}

// validate checks every config of o, and that they fit together.
func (o *opened) validate() error {
	errs := []error{o.unet.Validate(), o.vae.Validate(), o.text.Validate()}
	if o.comps[compText2] != nil {
		errs = append(errs, o.text2.Validate())
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if o.family.penultimate {
		switch {
		case o.comps[compText2] == nil || !o.text2.Projected():
			return fmt.Errorf("%s needs a second text encoder with a text projection", o.family.Name)
		case o.text.HiddenSize+o.text2.HiddenSize != o.unet.CrossAttentionDim:
			return fmt.Errorf("text encoders of width %d and %d do not make the U-Net's context width %d", o.text.HiddenSize, o.text2.HiddenSize, o.unet.CrossAttentionDim)
		case !o.unet.TextTime():
			return fmt.Errorf("%s U-Net without the added text and size conditioning (addition_embed_type %q)", o.family.Name, o.unet.AdditionEmbedType)
		case o.unet.ProjectionClassEmbeddingsInputDim != sdxlSizeIDs*o.unet.AdditionTimeEmbedDim+o.text2.ProjectionDim:
			return fmt.Errorf("the U-Net's added conditioning takes %d values, not %d size ids of %d and a %d-wide pooled embedding",
				o.unet.ProjectionClassEmbeddingsInputDim, sdxlSizeIDs, o.unet.AdditionTimeEmbedDim, o.text2.ProjectionDim)
		}
	}
	return nil
}

// TextEncoder is one text encoder of a model, with what a pipeline needs to
// run it.
type TextEncoder struct {
	Config  textenc.Config
	Weights weights.Source // by diffusers key name; the dynamic type is *Component
	PadID   int            // its tokenizer's pad id: 49407 (<|endoftext|>) for SD 1.x, 0 ("!") for SD 2.x
	// Penultimate: the U-Net reads hidden_states[-2] without the final
	// LayerNorm (SDXL); otherwise the final layer's, normed (SD 1.x, 2.x).
	Penultimate bool
	// Pooled: the encoder's pooled, projected embedding conditions the
	// U-Net too (SDXL's second encoder).
	Pooled bool
}

// Hash returns the AUTOMATIC1111 "Model hash" written into PNG parameters:
// the first 10 hex digits of the SHA-256 of the checkpoint file (for a
// diffusers folder, of the UNet weights file). It reads the whole file, so
// it is computed on first call and remembered.
func (m *Model) Hash() (string, error) {
	m.hashOnce.Do(func() {
		m.hash, m.hashErr = m.hashFn()
		if m.hashErr == nil {
			m.hash = m.hash[:10]
		}
	})
	return m.hash, m.hashErr
}

// Close unmaps the weight files. Tensors already returned by Float32 are
// copies and stay valid; reading weights after Close fails.
func (m *Model) Close() error {
	m.closeOnce.Do(func() {
		for _, f := range m.files {
			if err := f.Close(); err != nil && m.closeErr == nil {
				m.closeErr = err
			}
		}
	})
	return m.closeErr
}

// Component is the weights of one model part (unet, vae or text_encoder)
// under diffusers key names, whichever layout they are stored in. It
// implements weights.Source.
type Component struct {
	Name    string
	entries map[string]entry
	names   []string
}

// entry locates one tensor: the file and stored name it comes from and the
// shape it has under its diffusers name (which differs from the stored one
// only for the VAE attention 1x1 convs that diffusers keeps as linears).
type entry struct {
	file   *safetensors.File
	stored string
	dtype  string
	shape  []int
	bytes  int64
	// part, when set, selects rows [part*n, (part+1)*n) of the stored
	// tensor's first dimension, n = shape[0]: OpenCLIP's fused attention
	// in_proj is split into diffusers' q/k/v this way.
	part    int
	partial bool
	// transposed: the stored tensor is the transpose of the 2-D shape
	// (OpenCLIP's text_projection); it is widened, never viewed.
	transposed bool
}

// slice returns the elements of a partial entry from the stored tensor's
// elements (or bytes, with size bytes per element).
func (e entry) slice(n int) (lo, hi int) {
	per := 1
	for _, d := range e.shape {
		per *= d
	}
	return e.part * per * n, (e.part + 1) * per * n
}

func newComponent(name string) *Component {
	return &Component{Name: name, entries: map[string]entry{}}
}

// add records a tensor; a second tensor under the same key is refused (two
// stored names mapping to one diffusers name) and the first one kept.
func (c *Component) add(key string, e entry) bool {
	if _, dup := c.entries[key]; dup {
		return false
	}
	c.names = append(c.names, key)
	c.entries[key] = e
	return true
}

func (c *Component) sortNames() { sort.Strings(c.names) }

// Shape implements weights.Source.
func (c *Component) Shape(name string) ([]int, bool) {
	e, ok := c.entries[name]
	if !ok {
		return nil, false
	}
	return append([]int(nil), e.shape...), true
}

// Float32 implements weights.Source: the tensor widened exactly to float32,
// read from the mapped file now.
func (c *Component) Float32(name string) ([]float32, error) {
	e, ok := c.entries[name]
	if !ok {
		return nil, fmt.Errorf("%s: missing tensor %q", c.Name, name)
	}
	if e.file == nil {
		return nil, fmt.Errorf("%s: tensor %q has no data", c.Name, name)
	}
	v, err := e.file.Float32(e.stored)
	if err != nil {
		if e.stored != name {
			return nil, fmt.Errorf("%s (stored as %q): %w", name, e.stored, err)
		}
		return nil, err
	}
	if e.partial {
		lo, hi := e.slice(1)
		if hi > len(v) {
			return nil, fmt.Errorf("%s (stored as %q): part %d out of range", name, e.stored, e.part)
		}
		v = append([]float32(nil), v[lo:hi]...)
	}
	if e.transposed {
		rows, cols := e.shape[0], e.shape[1]
		if len(v) != rows*cols {
			return nil, fmt.Errorf("%s (stored as %q): %d values for shape %v", name, e.stored, len(v), e.shape)
		}
		t := make([]float32, len(v))
		for r := range rows {
			for c := range cols {
				t[r*cols+c] = v[c*rows+r]
			}
		}
		v = t
	}
	return v, nil
}

// Names lists the component's diffusers key names, sorted.
func (c *Component) Names() []string { return c.names }

// Stored returns the name the tensor has in the file (the LDM name for a
// single-file checkpoint).
func (c *Component) Stored(name string) string { return c.entries[name].stored }

// DType returns the tensor's dtype as stored ("F16", "F32", ...).
func (c *Component) DType(name string) string { return c.entries[name].dtype }

// Raw implements weights.RawSource: the stored bytes (a view of the mapped
// file, valid until Close) and dtype. Only tensors whose diffusers shape has
// the stored number of elements are viewable, which holds for all of them.
func (c *Component) Raw(name string) ([]byte, string, error) {
	e, ok := c.entries[name]
	if !ok || e.file == nil {
		return nil, "", fmt.Errorf("%s: missing tensor %q", c.Name, name)
	}
	if e.transposed {
		return nil, "", weights.ErrNoView
	}
	b, _, err := e.file.Raw(e.stored)
	if err == nil && e.partial {
		size := map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8}[e.dtype]
		lo, hi := e.slice(size)
		if size == 0 || hi > len(b) {
			return nil, "", fmt.Errorf("%s: tensor %q: cannot view part %d of %s data", c.Name, name, e.part, e.dtype)
		}
		b = b[lo:hi]
	}
	return b, e.dtype, err
}

// ReleaseTensor implements weights.TensorReleaser: Release for one tensor
// (the whole stored tensor where the name is a slice of it).
func (c *Component) ReleaseTensor(name string) {
	if e, ok := c.entries[name]; ok && e.file != nil {
		e.file.Release(e.stored)
	}
}

// Release lets the operating system drop the component's mapped weights
// from memory until they are next used: the pipeline calls it for a stage
// it has finished (the U-Net before the VAE decode), which lowers the peak
// resident size by the stage's weights.
func (c *Component) Release() {
	for _, e := range c.entries {
		if e.file != nil {
			e.file.Release(e.stored)
		}
	}
}
