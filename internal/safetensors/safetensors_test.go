package safetensors

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const testdata = "../../testdata"

// build assembles a file from a raw header string and a data section, so
// tests can say exactly which bytes a hostile file holds.
func build(header string, data []byte) []byte {
	buf := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(buf, uint64(len(header)))
	buf = append(buf, header...)
	return append(buf, data...)
}

func TestParseFixtures(t *testing.T) {
	cases := []struct {
		path    string
		tensors int
		dtype   string // every tensor's dtype, "" when mixed
	}{
		{"dtypes.safetensors", 18, ""},
		{"model-fp16/sd1-tiny.fp16.safetensors", 996, "F16"},
		{"model-diffusers/unet/diffusion_pytorch_model.safetensors", 684, "F32"},
		{"model-diffusers/vae/diffusion_pytorch_model.safetensors", 244, "F32"},
		{"model-diffusers/text_encoder/model.safetensors", 68, "F32"},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			f, err := Open(filepath.Join(testdata, c.path))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if got := len(f.Names()); got != c.tensors {
				t.Fatalf("%d tensors, want %d", got, c.tensors)
			}
			for _, name := range f.Names() {
				in, _ := f.Info(name)
				if c.dtype != "" && in.DType != c.dtype {
					t.Fatalf("%s: dtype %s, want %s", name, in.DType, c.dtype)
				}
				v, err := f.Float32(name)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if len(v) != in.Numel() {
					t.Fatalf("%s: %d values for shape %v", name, len(v), in.Shape)
				}
			}
		})
	}
}

// TestDTypesExact checks widening against the fixture's expected.<name>
// float32 values, bit for bit (NaN payloads and -0 included).
func TestDTypesExact(t *testing.T) {
	f, err := Open(filepath.Join(testdata, "dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata()["generator"] == "" {
		t.Errorf("metadata not read: %v", f.Metadata())
	}
	checked := map[string]bool{}
	for _, name := range f.Names() {
		if strings.HasPrefix(name, "expected.") {
			continue
		}
		in, _ := f.Info(name)
		want, err := f.Float32("expected." + name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := f.Float32(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("%s[%d]: bits %#08x, want %#08x", name, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
			}
		}
		checked[name] = true
		switch name {
		case "f32.empty":
			if len(got) != 0 || len(in.Shape) != 2 || in.Shape[1] != 0 {
				t.Errorf("f32.empty: shape %v, %d values", in.Shape, len(got))
			}
		case "f16.scalar":
			if len(in.Shape) != 0 || len(got) != 1 || got[0] != 3.140625 {
				t.Errorf("f16.scalar: shape %v, values %v", in.Shape, got)
			}
		}
	}
	for _, name := range []string{"f32.special", "f32.matrix", "f32.empty", "f16.special", "f16.rand3d", "f16.scalar", "bf16.special", "bf16.rand3d", "bf16.row"} {
		if !checked[name] {
			t.Errorf("fixture tensor %s not checked", name)
		}
	}
}

// TestF16Exhaustive compares every half-precision bit pattern with the value
// the IEEE definition gives, computed independently in float64.
func TestF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		sign := 1.0
		if h&0x8000 != 0 {
			sign = -1
		}
		e, m := (h>>10)&0x1f, h&0x3ff
		got := F16ToF32(uint16(h))
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(int(sign))
		case e == 0x1f:
			if !math.IsNaN(float64(got)) || math.Float32bits(got) != uint32(h&0x8000)<<16|0x7f800000|uint32(m)<<13 {
				t.Fatalf("%#04x: got bits %#08x, want NaN with shifted payload", h, math.Float32bits(got))
			}
			continue
		case e == 0:
			want = sign * float64(m) * math.Pow(2, -24)
		default:
			want = sign * (1 + float64(m)/1024) * math.Pow(2, float64(e-15))
		}
		if float64(got) != want || math.Signbit(float64(got)) != (sign < 0) {
			t.Fatalf("%#04x: got %g, want %g", h, got, want)
		}
	}
}

func TestParseAccepts(t *testing.T) {
	f32 := make([]byte, 12)
	cases := []struct {
		name   string
		file   []byte
		check  string // tensor that must exist
		shape  []int
		values int
	}{
		{"empty object", build("{}", nil), "", nil, 0},
		{"space padding", build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}      `, f32), "a", []int{3}, 3},
		{"empty tensor", build(`{"a":{"dtype":"F32","shape":[2,0],"data_offsets":[12,12]},"b":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`, f32), "a", []int{2, 0}, 0},
		{"0-d tensor", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`, f32), "a", []int{}, 1},
		{"null metadata", build(`{"__metadata__":null,"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, f32), "a", []int{2}, 2},
		{"gap between tensors", build(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F16","shape":[1],"data_offsets":[8,10]}}`, f32), "b", []int{1}, 1},
		{"non-float dtype", build(`{"a":{"dtype":"F8_E4M3","shape":[12],"data_offsets":[0,12]}}`, f32), "a", []int{12}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.file)
			if err != nil {
				t.Fatal(err)
			}
			if c.check == "" {
				return
			}
			in, ok := f.Info(c.check)
			if !ok || len(in.Shape) != len(c.shape) {
				t.Fatalf("info %+v, %v", in, ok)
			}
			v, err := f.Float32(c.check)
			if c.values < 0 {
				if err == nil {
					t.Fatal("Float32 of a non-float tensor did not fail")
				}
				return
			}
			if err != nil || len(v) != c.values {
				t.Fatalf("%d values, %v; want %d", len(v), err, c.values)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	data := make([]byte, 16)
	hugeHeader := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeHeader, 100<<30)
	pastEnd := make([]byte, 20)
	binary.LittleEndian.PutUint64(pastEnd, 100)
	entry := func(dtype, shape, offsets string) string {
		return `{"t":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}}`
	}
	cases := []struct {
		name string
		file []byte
		want string // substring of the error
	}{
		{"empty", nil, "empty"},
		{"5 bytes", []byte("abcde"), "shorter than"},
		{"header length past end", pastEnd, "past the end"},
		{"100 GB header", hugeHeader, "limit"},
		{"zero header", build("", data), "too short"},
		{"non-UTF-8", build("{\"\xff\":1}", nil), "UTF-8"},
		{"array", build("[1,2]", nil), "not a JSON object"},
		{"string", build(`"x"`, nil), "not a JSON object"},
		{"null", build("null", nil), "not a JSON object"},
		{"number", build("12", nil), "not a JSON object"},
		{"unterminated", build(`{"a":`, nil), "not valid JSON"},
		{"trailing data", build(`{} x`, nil), "after the JSON object"},
		{"two objects", build(`{}{}`, nil), "after the JSON object"},
		{"metadata values not strings", build(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"metadata not an object", build(`{"__metadata__":[1]}`, nil), "__metadata__"},
		{"metadata twice", build(`{"__metadata__":{},"__metadata__":{}}`, nil), "two __metadata__"},
		{"entry not an object", build(`{"t":5}`, nil), "bad header entry"},
		{"missing shape", build(`{"t":{"dtype":"F32","data_offsets":[0,4]}}`, data), "needs dtype, shape"},
		{"missing dtype", build(`{"t":{"shape":[1],"data_offsets":[0,4]}}`, data), "needs dtype, shape"},
		{"unknown dtype", build(entry("F99", "[1]", "[0,4]"), data), "unsupported dtype"},
		{"offsets past end", build(entry("F32", "[8]", "[0,32]"), data), "past the end"},
		{"offsets reversed", build(entry("F32", "[1]", "[8,4]"), data), "not an increasing range"},
		{"negative offset", build(entry("F32", "[1]", "[-4,0]"), data), "not an increasing range"},
		{"three offsets", build(entry("F32", "[1]", "[0,4,8]"), data), "2 entries"},
		{"size mismatch", build(entry("F32", "[3]", "[0,8]"), data), "does not match"},
		{"dtype mismatch", build(entry("F16", "[4]", "[0,16]"), data), "does not match"},
		{"negative dim", build(entry("F32", "[-1]", "[0,4]"), data), "bad dimension"},
		{"fractional dim", build(entry("F32", "[1.5]", "[0,4]"), data), "bad header entry"},
		{"dim too large for int64", build(entry("F32", "[1e30]", "[0,4]"), data), "bad header entry"},
		{"overflowing dims", build(entry("F32", "[4294967296,4294967296]", "[0,0]"), data), "overflows"},
		{"overflow hidden by a zero dim", build(entry("F32", "[4611686018427387904,4,0]", "[0,0]"), data), "overflows"},
		// 2^62 F64 elements are 2^65 bytes, which wraps to 0 in int64.
		{"byte count wraps to zero", build(entry("F64", "[4611686018427387904]", "[0,0]"), data), "does not match"},
		{"overlapping", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, data), "overlap"},
		{"aliased", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, data), "overlap"},
		{"duplicate name", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data), "twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.file)
			if err == nil {
				t.Fatalf("parsed: %v", f.Names())
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

// TestOpenHostile goes through the mmap path with files on disk.
func TestOpenHostile(t *testing.T) {
	dir := t.TempDir()
	huge := make([]byte, 64)
	binary.LittleEndian.PutUint64(huge, 100<<30)
	for name, body := range map[string][]byte{
		"empty.safetensors":     {},
		"huge.safetensors":      huge,
		"truncated.safetensors": build(`{"a":{"dtype":"F32","shape":[100],"data_offsets":[0,400]}}`, make([]byte, 40)),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if f, err := Open(p); err == nil {
			f.Close()
			t.Errorf("%s: opened", name)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("missing file opened")
	}
	if _, err := Open(dir); err == nil {
		t.Error("directory opened")
	}
}

func TestAccessors(t *testing.T) {
	var data []byte
	data = binary.LittleEndian.AppendUint64(data, uint64(1<<40+3))
	data = binary.LittleEndian.AppendUint64(data, math.Float64bits(0.1))
	f, err := Parse(build(`{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"d":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}`, data))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Int64("i"); err != nil || v[0] != 1<<40+3 {
		t.Errorf("Int64: %v %v", v, err)
	}
	if _, err := f.Int64("d"); err == nil {
		t.Error("Int64 of F64 did not fail")
	}
	if _, err := f.Float32("i"); err == nil {
		t.Error("Float32 of I64 did not fail")
	}
	if v, err := f.Float32("d"); err != nil || v[0] != float32(0.1) {
		t.Errorf("F64 narrowing: %v %v", v, err)
	}
	if _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing tensor: %v", err)
	}
	if err := Decode(make([]float32, 3), make([]byte, 8), "F32"); err == nil {
		t.Error("Decode with mismatched sizes did not fail")
	}
	f.Close() // Parse-only files have nothing to release; Close must still be safe.
}

func TestCloseInvalidates(t *testing.T) {
	f, err := Open(filepath.Join(testdata, "dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Float32("f32.special"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("read after Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// FuzzParse: Parse must never panic, must allocate in proportion to the
// input (never to sizes the header claims), and whatever it accepts must be
// readable without panics.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(testdata, "dtypes.safetensors")); err == nil {
		f.Add(b)
	}
	data := make([]byte, 16)
	for _, h := range []string{
		"{}",
		`{"__metadata__":{"a":"b"},"t":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]}}`,
		`{"t":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"u":{"dtype":"F32","shape":[0,9],"data_offsets":[2,2]}}`,
		`{"t":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}}`,
		`{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}}`,
		`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`,
		`{"t":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}`,
		"[]", "{\"\xff\":1}", `{"a":`,
	} {
		f.Add(build(h, data))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		file, err := Parse(b)
		runtime.ReadMemStats(&after)
		// JSON decoding costs a small multiple of the header's size; 64x
		// plus slack is far below what a claimed size could cause.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(b))+1<<16 {
			t.Fatalf("Parse of %d bytes allocated %d bytes", len(b), alloc)
		}
		if err != nil {
			return
		}
		for _, name := range file.Names() {
			raw, in, err := file.Raw(name)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(raw)) != in.End-in.Begin || in.Numel()*DTypeSize[in.DType] != len(raw) {
				t.Fatalf("%s: %d bytes for %v %s", name, len(raw), in.Shape, in.DType)
			}
			v, err := file.Float32(name)
			if IsFloat(in.DType) && (err != nil || len(v) != in.Numel()) {
				t.Fatalf("%s: Float32: %d values, %v", name, len(v), err)
			}
			if !IsFloat(in.DType) && err == nil {
				t.Fatalf("%s: Float32 of %s succeeded", name, in.DType)
			}
		}
	})
}
