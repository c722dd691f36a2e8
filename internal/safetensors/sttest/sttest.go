// Package sttest writes small safetensors files for tests: hostile or
// renamed variants of fixtures, synthetic add-ons.
package sttest

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"
)

// Tensor is a float32 tensor to write.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Filled is a tensor of shape whose values are all v (no shape: a 0-d
// tensor of one value, as kohya writes alpha).
func Filled(v float32, shape ...int) Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = v
	}
	return Tensor{append([]int{}, shape...), data} // [] for 0-d, not null
}

// WriteF32 writes ts to path as F32 tensors, names sorted, the header
// padded to 8 bytes as the safetensors library writes it.
func WriteF32(t testing.TB, path string, ts map[string]Tensor) {
	t.Helper()
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sort.Strings(names)
	header := map[string]any{}
	var data []byte
	for _, n := range names {
		start := len(data)
		for _, v := range ts[n].Data {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
		}
		shape := ts[n].Shape
		if shape == nil {
			shape = []int{}
		}
		header[n] = map[string]any{"dtype": "F32", "shape": shape, "data_offsets": []int{start, len(data)}}
	}
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	buf := append(binary.LittleEndian.AppendUint64(nil, uint64(len(h))), h...)
	if err := os.WriteFile(path, append(buf, data...), 0o644); err != nil {
		t.Fatal(err)
	}
}
