package sampler

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/imggen/imggen/internal/safetensors"
)

// Shared helpers for the golden-data tests; the data lives in testdata/.

const schedulersFixture = "../../testdata/schedulers.safetensors"

func openST(t *testing.T, path string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func f32(t *testing.T, f *safetensors.File, name string) []float32 {
	t.Helper()
	v, err := f.Float32(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// numbers reads an I64, F32 or F64 tensor exactly as float64 values.
func numbers(t *testing.T, f *safetensors.File, name string) []float64 {
	t.Helper()
	b, info, err := f.Raw(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	n := info.Numel()
	out := make([]float64, n)
	switch info.DType {
	case "I64":
		for i := range out {
			out[i] = float64(int64(binary.LittleEndian.Uint64(b[8*i:])))
		}
	case "F64":
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
		}
	case "F32":
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	default:
		t.Fatalf("%s: unexpected dtype %s", name, info.DType)
	}
	return out
}

// replay answers Normal calls from recorded draws, in order.
type replay struct {
	t    *testing.T
	data []float32
	pos  int
	n    int // number of draws made
}

func (r *replay) Normal(n int) []float32 {
	if r.pos+n > len(r.data) {
		r.t.Fatalf("replay: draw %d of %d values exhausts the %d recorded values", r.n, n, len(r.data))
	}
	v := r.data[r.pos : r.pos+n]
	r.pos += n
	r.n++
	return v
}

// counter counts draws and returns zeros.
type counter struct{ draws int }

func (c *counter) Normal(n int) []float32 {
	c.draws++
	return make([]float32, n)
}
