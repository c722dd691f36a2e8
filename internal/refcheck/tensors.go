package refcheck

import (
	"fmt"

	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/tensor"
)

// Tensors is an in-memory weights.Source: the tests load the tiny fixture
// networks from it.
type Tensors map[string]*tensor.Tensor

// Shape implements weights.Source.
func (m Tensors) Shape(name string) ([]int, bool) {
	t, ok := m[name]
	if !ok {
		return nil, false
	}
	return t.Shape, true
}

// Float32 implements weights.Source.
func (m Tensors) Float32(name string) ([]float32, error) {
	t, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("missing tensor %q", name)
	}
	return t.Data, nil
}

// ReadTensors reads every float tensor of a safetensors file into memory,
// widened to float32: one component's file without the model loader.
func ReadTensors(path string) (Tensors, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src := Tensors{}
	for _, n := range f.Names() {
		in, _ := f.Info(n)
		if !safetensors.IsFloat(in.DType) {
			continue
		}
		data, err := f.Float32(n)
		if err != nil {
			return nil, err
		}
		src[n] = tensor.From(data, in.Shape...)
	}
	return src, nil
}
