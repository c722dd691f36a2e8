// Package weights hands model parameters to the layers that need them. A
// Source answers by diffusers key name (component-local, e.g.
// "conv_in.weight"), whatever the file layout; a Loader walks the module tree
// and keeps the first error, so layer constructors read like the layer.
package weights

import (
	"fmt"
	"strings"

	"github.com/imggen/imggen/internal/tensor"
)

// Source gives the float32 values of named tensors of one model component.
type Source interface {
	// Shape returns the tensor's shape and whether it exists.
	Shape(name string) ([]int, bool)
	// Float32 returns the tensor widened to float32.
	Float32(name string) ([]float32, error)
}

// Releaser is a Source whose data is mapped from files: Release lets the
// operating system drop the pages until they are next read. A Source that
// wraps another (a LoRA, a replacement) forwards it.
type Releaser interface {
	Release()
}

// Loader reads tensors under a key prefix and records the first failure.
type Loader struct {
	src    Source
	prefix string
	err    *error
	layers Layers // nil: layers are not recorded
}

// Layers maps the key prefix of each weight layer a network loaded (e.g.
// "down_blocks.0.resnets.0.conv1") to the layer, so that add-ons such as
// LoRA can reach a layer by the name its weights have.
type Layers map[string]any

// NewLoader starts a Loader at the root of src.
func NewLoader(src Source) Loader {
	var err error
	return Loader{src: src, err: &err}
}

// Recording returns l with the layers built from it recorded in layers.
func (l Loader) Recording(layers Layers) Loader {
	l.layers = layers
	return l
}

// Record notes layer as the module at l's prefix (when l is recording).
func (l Loader) Record(layer any) {
	if l.layers != nil {
		l.layers[l.Prefix()] = layer
	}
}

// Sub returns a Loader for the child module called name.
func (l Loader) Sub(name string) Loader {
	return Loader{src: l.src, prefix: l.prefix + name + ".", err: l.err, layers: l.layers}
}

// Subf is Sub with a formatted name, e.g. Subf("resnets.%d", i).
func (l Loader) Subf(format string, args ...any) Loader {
	return l.Sub(fmt.Sprintf(format, args...))
}

// Has reports whether the tensor exists.
func (l Loader) Has(name string) bool {
	_, ok := l.src.Shape(l.prefix + name)
	return ok
}

// Tensor loads the named tensor, which must have exactly the given shape. On
// failure it records an error naming the key and returns a zero tensor of the
// expected shape, so construction can go on and report the first problem.
func (l Loader) Tensor(name string, shape ...int) *tensor.Tensor {
	key := l.prefix + name
	if *l.err != nil {
		return tensor.New(shape...)
	}
	if r, ok := l.src.(Recorder); ok {
		return tensor.From(r.Record(key, shape), shape...)
	}
	got, ok := l.src.Shape(key)
	if !ok {
		*l.err = fmt.Errorf("missing tensor %q", key)
		return tensor.New(shape...)
	}
	if !tensor.SameShape(got, shape) {
		*l.err = fmt.Errorf("tensor %q has shape %v, expected %v", key, got, shape)
		return tensor.New(shape...)
	}
	data, err := l.src.Float32(key)
	if err != nil {
		*l.err = fmt.Errorf("tensor %q: %w", key, err)
		return tensor.New(shape...)
	}
	return tensor.From(data, shape...)
}

// Err returns the first error met by any Loader sharing this root.
func (l Loader) Err() error { return *l.err }

// Prefix is the key prefix of this Loader (for messages).
func (l Loader) Prefix() string { return strings.TrimSuffix(l.prefix, ".") }
