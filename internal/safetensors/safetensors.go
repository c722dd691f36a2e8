// Package safetensors reads the safetensors format: an 8-byte little-endian
// header length, a JSON header, then raw little-endian tensor data.
//
// Files are treated as untrusted: every claim in the header (lengths, offsets,
// shapes) is checked against the real file size before it is used, so a
// hostile file gives an error, never a panic or an allocation sized by the
// file's claims.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"unicode/utf8"

	"github.com/imggen/imggen/internal/vmath"
)

// MaxHeaderLen bounds the JSON header. Real checkpoints have headers of a few
// hundred kilobytes; anything far larger is not a model file.
const MaxHeaderLen = 100 << 20

// DTypeSize gives the element size in bytes of each dtype the parser accepts.
// Only the floating-point ones (F64, F32, F16, BF16) convert to float32; the
// others are accepted so that a file holding, say, an I64 buffer or an 8-bit
// float tensor still parses and its other tensors stay usable.
var DTypeSize = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1,
	"U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1,
	"F8_E4M3": 1, "F8_E5M2": 1,
}

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType string
	Shape []int
	// Begin and End are byte offsets into the data section.
	Begin, End int64
}

// Numel is the number of elements of the tensor. Parse guarantees it fits in
// an int and that Numel*size == End-Begin.
func (in Info) Numel() int {
	n := 1
	for _, d := range in.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file.
type File struct {
	data     []byte // the data section only
	tensors  map[string]Info
	names    []string
	metadata map[string]string
	release  func() error
}

// headerEntry uses pointers so that a missing field is told apart from an
// empty one: a tensor without "shape" is malformed, not a scalar.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// Open maps (or, where mapping is unavailable, reads) the file at path and
// parses its header. Close releases it.
func Open(path string) (*File, error) {
	buf, release, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	f, err := Parse(buf)
	if err != nil {
		release()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.release = release
	return f, nil
}

// Close releases the file's memory. Slices returned by Float32 and Int64 are
// copies and stay valid; views returned by Raw do not.
func (f *File) Close() error {
	if f.release == nil {
		return nil
	}
	r := f.release
	f.release, f.data = nil, nil
	return r()
}

// Parse parses a whole safetensors file held in buf. The returned File refers
// to buf; it does not copy it. Memory allocated is proportional to the header
// actually present, never to sizes the header claims.
func Parse(buf []byte) (*File, error) {
	if len(buf) == 0 {
		return nil, errors.New("not a safetensors file: the file is empty")
	}
	if len(buf) < 8 {
		return nil, fmt.Errorf("not a safetensors file: %d bytes, shorter than the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf[:8])
	if n > MaxHeaderLen {
		return nil, fmt.Errorf("not a safetensors file: header length %d is larger than the %d-byte limit", n, MaxHeaderLen)
	}
	if n > uint64(len(buf)-8) {
		return nil, fmt.Errorf("truncated or not a safetensors file: header length %d is past the end of the file (%d bytes)", n, len(buf))
	}
	if n < 2 {
		return nil, fmt.Errorf("not a safetensors file: header length %d is too short for a JSON object", n)
	}
	header := buf[8 : 8+n]
	if !utf8.Valid(header) {
		return nil, errors.New("safetensors header is not valid UTF-8")
	}
	f := &File{data: buf[8+n:], tensors: map[string]Info{}}
	dataLen := int64(len(f.data))
	// Walk the object key by key so that duplicate names are caught (a plain
	// map decode would silently keep the last one).
	dec := json.NewDecoder(bytes.NewReader(header))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("safetensors header is not a JSON object")
	}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("safetensors header is not valid JSON: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("safetensors header is not valid JSON: object key is not a string")
		}
		var msg json.RawMessage
		if err := dec.Decode(&msg); err != nil {
			return nil, fmt.Errorf("safetensors header is not valid JSON: %v", err)
		}
		if name == "__metadata__" {
			if seenMeta {
				return nil, errors.New("safetensors header has two __metadata__ entries")
			}
			seenMeta = true
			if err := json.Unmarshal(msg, &f.metadata); err != nil {
				return nil, fmt.Errorf("safetensors __metadata__ is not a map of strings: %v", err)
			}
			continue
		}
		if _, dup := f.tensors[name]; dup {
			return nil, fmt.Errorf("tensor %q appears twice in the header", name)
		}
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: bad header entry: %v", name, err)
		}
		info, err := checkEntry(name, e, dataLen)
		if err != nil {
			return nil, err
		}
		f.tensors[name] = info
		f.names = append(f.names, name)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("safetensors header is not valid JSON: unterminated object")
	}
	// Only padding may follow the object.
	if rest := bytes.TrimRight(header[dec.InputOffset():], " \t\r\n"); len(rest) != 0 {
		return nil, errors.New("safetensors header has data after the JSON object")
	}
	sort.Strings(f.names)
	if err := checkOverlap(f.tensors); err != nil {
		return nil, err
	}
	return f, nil
}

func checkEntry(name string, e headerEntry, dataLen int64) (Info, error) {
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return Info{}, fmt.Errorf("tensor %q: header entry needs dtype, shape and data_offsets", name)
	}
	size, ok := DTypeSize[*e.DType]
	if !ok {
		return Info{}, fmt.Errorf("tensor %q: unsupported dtype %q", name, *e.DType)
	}
	offs, dims := *e.DataOffsets, *e.Shape
	if len(offs) != 2 {
		return Info{}, fmt.Errorf("tensor %q: data_offsets must have 2 entries, has %d", name, len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < begin {
		return Info{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] are not an increasing range", name, begin, end)
	}
	if end > dataLen {
		return Info{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] are past the end of the data (%d bytes): truncated file?", name, begin, end, dataLen)
	}
	// Multiply with overflow checks (as the reference implementation does):
	// a wrapped product could otherwise match a small byte range and later
	// size an allocation.
	shape := make([]int, len(dims))
	numel := int64(1)
	for i, d := range dims {
		if d < 0 || d > math.MaxInt {
			return Info{}, fmt.Errorf("tensor %q: bad dimension %d in shape %v", name, d, dims)
		}
		if d != 0 && numel > math.MaxInt64/d {
			return Info{}, fmt.Errorf("tensor %q: shape %v overflows", name, dims)
		}
		numel *= d
		shape[i] = int(d)
	}
	if numel > math.MaxInt64/int64(size) || numel*int64(size) != end-begin {
		return Info{}, fmt.Errorf("tensor %q: shape %v of %s does not match its %d data bytes", name, dims, *e.DType, end-begin)
	}
	return Info{Name: name, DType: *e.DType, Shape: shape, Begin: begin, End: end}, nil
}

// checkOverlap rejects tensors sharing bytes. Gaps are tolerated: they are
// harmless to a reader, unlike aliasing.
func checkOverlap(ts map[string]Info) error {
	list := make([]Info, 0, len(ts))
	for _, in := range ts {
		if in.End > in.Begin {
			list = append(list, in)
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Begin != list[j].Begin {
			return list[i].Begin < list[j].Begin
		}
		return list[i].Name < list[j].Name
	})
	for i := 1; i < len(list); i++ {
		if list[i].Begin < list[i-1].End {
			return fmt.Errorf("tensors %q and %q overlap in the file", list[i-1].Name, list[i].Name)
		}
	}
	return nil
}

// Release tells the operating system that the named tensors' memory is not
// needed for now (only for mapped files): it leaves the process's resident
// set and is paged back in from the page cache if read again.
func (f *File) Release(names ...string) {
	for _, n := range names {
		if in, ok := f.tensors[n]; ok && f.data != nil {
			dropPages(f.data[in.Begin:in.End], f.release != nil)
		}
	}
}

// Names lists the tensor names in sorted order.
func (f *File) Names() []string { return f.names }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.tensors[name]
	return in, ok
}

// Metadata returns the file's __metadata__ map (nil when absent).
func (f *File) Metadata() map[string]string { return f.metadata }

// Raw returns the tensor's bytes as stored (a view into the file).
func (f *File) Raw(name string) ([]byte, Info, error) {
	in, ok := f.tensors[name]
	if !ok {
		return nil, Info{}, fmt.Errorf("tensor %q not found", name)
	}
	if f.data == nil {
		return nil, Info{}, errors.New("safetensors file is closed")
	}
	return f.data[in.Begin:in.End], in, nil
}

// Float32 returns a float32 copy of a floating-point tensor, widening F16 and
// BF16 exactly (subnormals, signed zeros, infinities and NaN included) and
// rounding F64.
func (f *File) Float32(name string) ([]float32, error) {
	b, in, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	if !IsFloat(in.DType) {
		return nil, fmt.Errorf("tensor %q is %s, not a floating-point tensor", name, in.DType)
	}
	out := make([]float32, in.Numel())
	if err := Decode(out, b, in.DType); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return out, nil
}

// IsFloat reports whether Float32 can convert tensors of dtype.
func IsFloat(dtype string) bool {
	switch dtype {
	case "F64", "F32", "F16", "BF16":
		return true
	}
	return false
}

// Decode widens raw little-endian values of a floating-point dtype into dst,
// which must hold exactly len(b)/size(dtype) values.
func Decode(dst []float32, b []byte, dtype string) error {
	if size, ok := DTypeSize[dtype]; ok && len(dst)*size != len(b) {
		return fmt.Errorf("%d bytes of %s do not make %d values", len(b), dtype, len(dst))
	}
	switch dtype {
	case "F32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case "F16":
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case "BF16":
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
		}
	case "F64":
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	default:
		return fmt.Errorf("dtype %s is not a floating-point type", dtype)
	}
	return nil
}

// Int64 returns a copy of an I64 tensor.
func (f *File) Int64(name string) ([]int64, error) {
	b, in, err := f.Raw(name)
	if err != nil {
		return nil, err
	}
	if in.DType != "I64" {
		return nil, fmt.Errorf("tensor %q is %s, not I64", name, in.DType)
	}
	out := make([]int64, in.Numel())
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out, nil
}

// F16ToF32 widens an IEEE 754 half-precision value exactly.
func F16ToF32(h uint16) float32 { return vmath.F16ToF32(h) }
