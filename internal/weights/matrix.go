package weights

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/imggen/imggen/internal/vmath"
)

// Matrix is a read-only 2-D weight as stored: float32 or IEEE float16 bits.
// Where the source is a mapped file, the slice is a view of the mapping, so
// a 2 GB float16 checkpoint costs 2 GB of page cache and no heap; kernels
// widen float16 while they pack it.
type Matrix struct {
	Rows, Cols int
	F32        []float32 // set when stored as float32 (or widened from another type)
	F16        []uint16  // set when stored as float16
	release    func()    // drops a view's mapped pages (see Release)
}

// TensorReleaser is a RawSource that can let one tensor's mapped pages
// leave the resident set (model.Component).
type TensorReleaser interface {
	ReleaseTensor(name string)
}

// Release tells the operating system that the matrix's memory is not
// needed for now, where it is a view of a mapped file: its pages leave the
// resident set and are read back from the page cache if it is used again.
// A no-op for a copy. A layer that keeps its weights in another form (nn's
// bfloat16 packs) calls it so that the two forms do not both stay resident.
func (m Matrix) Release() {
	if m.release != nil {
		m.release()
	}
}

// RawSource is a Source that can hand out a tensor's stored bytes and dtype
// without copying them.
type RawSource interface {
	Source
	Raw(name string) ([]byte, string, error)
}

// ErrNoView is what a RawSource's Raw returns for a tensor it can only
// widen (one stored in another layout); Matrix then copies it.
var ErrNoView = errors.New("tensor cannot be viewed in place")

// Matrix loads the named tensor of the given shape as a rows x cols matrix
// (rows = shape[0], cols = the product of the rest), without copying it
// when the source can give a view. Errors are recorded as for Tensor.
func (l Loader) Matrix(name string, shape ...int) Matrix {
	rows, cols := shape[0], 1
	for _, d := range shape[1:] {
		cols *= d
	}
	if raw, ok := l.src.(RawSource); ok && *l.err == nil {
		if m, ok := l.view(raw, name, shape, rows, cols); ok {
			return m
		}
	}
	return Matrix{Rows: rows, Cols: cols, F32: l.Tensor(name, shape...).Data}
}

// view returns a zero-copy Matrix for F32 and F16 tensors whose bytes are
// suitably aligned; other dtypes (and the error paths) go through Tensor.
func (l Loader) view(src RawSource, name string, shape []int, rows, cols int) (Matrix, bool) {
	key := l.prefix + name
	got, ok := src.Shape(key)
	if !ok || !sameShape(got, shape) {
		return Matrix{}, false // Tensor reports it
	}
	b, dtype, err := src.Raw(key)
	if errors.Is(err, ErrNoView) {
		return Matrix{}, false
	}
	if err != nil {
		*l.err = fmt.Errorf("tensor %q: %w", key, err)
		return Matrix{}, true
	}
	n := rows * cols
	if n == 0 || !littleEndian {
		return Matrix{}, false
	}
	p := unsafe.Pointer(unsafe.SliceData(b))
	var release func()
	if r, ok := src.(TensorReleaser); ok {
		release = func() { r.ReleaseTensor(key) }
	}
	switch {
	case dtype == "F32" && len(b) == 4*n && uintptr(p)%4 == 0:
		return Matrix{Rows: rows, Cols: cols, F32: unsafe.Slice((*float32)(p), n), release: release}, true
	case dtype == "F16" && len(b) == 2*n && uintptr(p)%2 == 0:
		return Matrix{Rows: rows, Cols: cols, F16: unsafe.Slice((*uint16)(p), n), release: release}, true
	}
	return Matrix{}, false
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// littleEndian: the file's bytes can be viewed in place only on
// little-endian hosts (safetensors is little-endian).
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Widen writes the matrix as float32 into dst (len Rows*Cols).
func (m Matrix) Widen(dst []float32) {
	if m.F32 != nil {
		copy(dst, m.F32)
		return
	}
	vmath.WidenF16(dst, m.F16)
}
