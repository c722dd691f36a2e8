package weights

import (
	"errors"
	"slices"

	"github.com/imggen/imggen/internal/tensor"
)

// Recorder is an optional extension of Source. A Loader whose Source is a
// Recorder looks nothing up: it reports every tensor a layer asks for (full
// key and expected shape) to Record and hands the layer the values Record
// returns. Building a network over a Recorder therefore lists exactly the
// tensors that network needs, under their diffusers names, with no file.
type Recorder interface {
	Source
	// Record notes a request and returns tensor.Numel(shape) values.
	Record(name string, shape []int) []float32
}

// Key is one tensor a network asked for.
type Key struct {
	Name  string
	Shape []int
}

// KeyRecorder is a Recorder that keeps the requests in order and answers
// every one with zeros. The zeros of all tensors share one backing array,
// so recording a large network costs only what its layers allocate
// themselves; the network built over it must be used for nothing else.
type KeyRecorder struct {
	Keys  []Key
	zeros []float32
}

// Record implements Recorder.
func (r *KeyRecorder) Record(name string, shape []int) []float32 {
	r.Keys = append(r.Keys, Key{Name: name, Shape: slices.Clone(shape)})
	n := tensor.Numel(shape)
	if n > len(r.zeros) {
		r.zeros = make([]float32, n)
	}
	return r.zeros[:n:n]
}

// Shape implements Source: a KeyRecorder holds no tensors (so Loader.Has
// is false for every name).
func (r *KeyRecorder) Shape(string) ([]int, bool) { return nil, false }

// Float32 implements Source; a Loader over a Recorder never calls it.
func (r *KeyRecorder) Float32(name string) ([]float32, error) {
	return nil, errors.New("weights: a KeyRecorder holds no tensor data")
}
