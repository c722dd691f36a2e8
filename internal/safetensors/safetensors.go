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
)

// MaxHeaderLen bounds the JSON header. Real checkpoints have headers of a few
// hundred kilobytes; anything far larger is not a model file.
const MaxHeaderLen = 100 << 20

// DTypeSize gives the element size in bytes of each supported dtype.
var DTypeSize = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType string
	Shape []int
	// Begin and End are byte offsets into the data section.
	Begin, End int64
}

// Numel is the number of elements of the tensor.
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

type headerEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
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
// copies and stay valid.
func (f *File) Close() error {
	if f.release == nil {
		return nil
	}
	r := f.release
	f.release, f.data = nil, nil
	return r()
}

// Parse parses a whole safetensors file held in buf. The returned File refers
// to buf; it does not copy it.
func Parse(buf []byte) (*File, error) {
	if len(buf) < 8 {
		return nil, fmt.Errorf("not a safetensors file: %d bytes, shorter than the 8-byte header length", len(buf))
	}
	n := binary.LittleEndian.Uint64(buf[:8])
	if n > uint64(len(buf)-8) {
		return nil, fmt.Errorf("not a safetensors file: header length %d is past the end of the file (%d bytes)", n, len(buf))
	}
	if n > MaxHeaderLen {
		return nil, fmt.Errorf("safetensors header of %d bytes is larger than the %d-byte limit", n, MaxHeaderLen)
	}
	header := buf[8 : 8+n]
	if !utf8.Valid(header) {
		return nil, errors.New("safetensors header is not valid UTF-8")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(header))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("safetensors header is not a JSON object: %v", err)
	}
	f := &File{data: buf[8+n:], tensors: make(map[string]Info, len(raw))}
	dataLen := int64(len(f.data))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.metadata); err != nil {
				return nil, fmt.Errorf("safetensors __metadata__ is not a string map: %v", err)
			}
			continue
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
	sort.Strings(f.names)
	if err := checkOverlap(f.tensors); err != nil {
		return nil, err
	}
	return f, nil
}

func checkEntry(name string, e headerEntry, dataLen int64) (Info, error) {
	size, ok := DTypeSize[e.DType]
	if !ok {
		return Info{}, fmt.Errorf("tensor %q: unsupported dtype %q", name, e.DType)
	}
	if len(e.DataOffsets) != 2 {
		return Info{}, fmt.Errorf("tensor %q: data_offsets must have 2 entries, has %d", name, len(e.DataOffsets))
	}
	begin, end := e.DataOffsets[0], e.DataOffsets[1]
	if begin < 0 || end < begin || end > dataLen {
		return Info{}, fmt.Errorf("tensor %q: data_offsets [%d, %d] out of range (data section is %d bytes)", name, begin, end, dataLen)
	}
	shape := make([]int, len(e.Shape))
	numel := int64(1)
	for i, d := range e.Shape {
		if d < 0 {
			return Info{}, fmt.Errorf("tensor %q: negative dimension in shape %v", name, e.Shape)
		}
		// Any dimension above dataLen (or product overflowing it) cannot
		// match the byte range, so stop before the product can overflow.
		if d > 0 && numel > dataLen/d+1 {
			return Info{}, fmt.Errorf("tensor %q: shape %v is larger than the file", name, e.Shape)
		}
		numel *= d
		shape[i] = int(d)
	}
	if numel*int64(size) != end-begin {
		return Info{}, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes but data_offsets give %d", name, e.Shape, e.DType, numel*int64(size), end-begin)
	}
	return Info{Name: name, DType: e.DType, Shape: shape, Begin: begin, End: end}, nil
}

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
	out := make([]float32, in.Numel())
	if err := Decode(out, b, in.DType); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	return out, nil
}

// Decode widens raw little-endian values of a floating-point dtype into dst,
// which must hold exactly len(b)/size(dtype) values.
func Decode(dst []float32, b []byte, dtype string) error {
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
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or NaN: keep the payload, shifted.
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp != 0: // normal: re-bias 15 -> 127.
		return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
	case man == 0:
		return math.Float32frombits(sign)
	default: // subnormal m * 2^-24 is a normal float32.
		e := uint32(113)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
}
