package pngout

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testImage is a small gradient with full alpha, like the pipeline's output.
func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x * 7), uint8(y * 13), uint8(x ^ y), 0xff})
		}
	}
	return img
}

type chunk struct {
	typ  string
	body []byte
}

// chunks splits PNG bytes into chunks, checking every CRC.
func chunks(t *testing.T, data []byte) []chunk {
	t.Helper()
	if !bytes.HasPrefix(data, pngSignature) {
		t.Fatal("missing PNG signature")
	}
	var out []chunk
	for p := data[8:]; len(p) > 0; {
		n := binary.BigEndian.Uint32(p)
		c := chunk{string(p[4:8]), p[8 : 8+n]}
		if got, want := binary.BigEndian.Uint32(p[8+n:]), crc32.ChecksumIEEE(p[4:8+n]); got != want {
			t.Fatalf("%s chunk CRC %08x, want %08x", c.typ, got, want)
		}
		out = append(out, c)
		p = p[12+n:]
	}
	return out
}

func TestEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		name, params string
		wantChunk    string // "" = no text chunk
		want         string // what ReadParameters returns
	}{
		{"ascii", "sunset, oil painting\nNegative prompt: blurry\nSteps: 20, Seed: 42", "tEXt", ""},
		{"latin1", "café crème, façade", "tEXt", ""},
		{"non-latin1", "夕焼け,油絵 — ✓", "iTXt", ""},
		{"emoji", "a cat 🐱", "iTXt", ""},
		{"nul dropped", "a\x00b", "tEXt", "ab"},
		{"invalid utf8 replaced", "bad \xff byte", "iTXt", "bad \uFFFD byte"},
		{"empty", "", "", ""},
	}
	img := testImage(24, 16)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Encode(img, tc.params)
			if err != nil {
				t.Fatal(err)
			}
			cs := chunks(t, data)
			if cs[0].typ != "IHDR" {
				t.Fatalf("first chunk %s, want IHDR", cs[0].typ)
			}
			// IHDR: width, height, bit depth, colour type, ...
			if depth, ctype := cs[0].body[8], cs[0].body[9]; depth != 8 || ctype != 2 {
				t.Errorf("bit depth %d colour type %d, want 8 and 2 (RGB)", depth, ctype)
			}
			if tc.wantChunk == "" {
				for _, c := range cs {
					if c.typ == "tEXt" || c.typ == "iTXt" {
						t.Errorf("unexpected %s chunk", c.typ)
					}
				}
				if _, err := ParseParameters(data); !errors.Is(err, ErrNoParameters) {
					t.Errorf("ParseParameters error %v, want ErrNoParameters", err)
				}
				return
			}
			if cs[1].typ != tc.wantChunk {
				t.Errorf("chunk after IHDR is %s, want %s", cs[1].typ, tc.wantChunk)
			}
			want := tc.want
			if want == "" {
				want = tc.params
			}
			got, err := ParseParameters(data)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("parameters %q, want %q", got, want)
			}
			// The standard decoder must accept the file and see our pixels.
			dec, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			checkPixels(t, dec, img)
		})
	}
}

func checkPixels(t *testing.T, got image.Image, want *image.RGBA) {
	t.Helper()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
	}
	b := want.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			w := want.RGBAAt(x, y)
			w.A = 0xff
			if g := color.RGBAModel.Convert(got.At(x, y)).(color.RGBA); g != w {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, g, w)
			}
		}
	}
}

func TestEncodeTranslucentIsRGB(t *testing.T) {
	img := testImage(8, 8)
	img.Pix[3] = 0x10 // one translucent pixel must not turn the file RGBA
	data, err := Encode(img, "x")
	if err != nil {
		t.Fatal(err)
	}
	if ctype := chunks(t, data)[0].body[9]; ctype != 2 {
		t.Fatalf("colour type %d, want 2", ctype)
	}
	if img.Pix[3] != 0x10 {
		t.Error("Encode modified the caller's image")
	}
	dec, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	checkPixels(t, dec, img)
}

func TestEncodeErrors(t *testing.T) {
	for _, img := range []*image.RGBA{nil, image.NewRGBA(image.Rectangle{})} {
		if _, err := Encode(img, "x"); err == nil {
			t.Errorf("Encode(%v) succeeded", img)
		}
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	img := testImage(16, 8)
	// Writing twice checks overwrite as well as creation.
	for _, params := range []string{"first", "second, 日本"} {
		if err := Write(path, img, params); err != nil {
			t.Fatal(err)
		}
		got, err := ReadParameters(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != params {
			t.Errorf("ReadParameters = %q, want %q", got, params)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	assertOnly(t, dir, "out.png")
}

func TestWriteFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	// Renaming a file over a non-empty directory fails after the data is
	// written, which exercises the cleanup of the temporary file.
	target := filepath.Join(dir, "taken.png")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, testImage(8, 8), "p"); err == nil {
		t.Fatal("Write over a directory succeeded")
	}
	assertOnly(t, dir, "taken.png")

	if err := Write(filepath.Join(dir, "missing", "a.png"), testImage(8, 8), "p"); err == nil {
		t.Fatal("Write into a missing directory succeeded")
	}
	if err := Write(filepath.Join(dir, "empty.png"), nil, "p"); err == nil {
		t.Fatal("Write of a nil image succeeded")
	}
	assertOnly(t, dir, "taken.png")
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("directory holds %q, want %q", got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("directory holds %q, want %q", got, names)
		}
	}
}

// withChunk returns a plain PNG with one extra chunk after IHDR.
func withChunk(t *testing.T, typ string, body []byte) []byte {
	t.Helper()
	data, err := Encode(testImage(4, 4), "")
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte{}, data[:33]...)
	out = appendChunk(out, typ, body)
	return append(out, data[33:]...)
}

func deflate(s string) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestParseParametersChunkKinds(t *testing.T) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name    string
		typ     string
		body    []byte
		want    string
		wantErr bool
	}{
		{"tEXt latin1", "tEXt", cat([]byte("parameters\x00caf"), []byte{0xe9}), "café", false},
		{"zTXt", "zTXt", cat([]byte("parameters\x00\x00"), deflate("zipped, prompt")), "zipped, prompt", false},
		{"iTXt plain", "iTXt", []byte("parameters\x00\x00\x00en\x00Parameter\x00日本"), "日本", false},
		{"iTXt compressed", "iTXt", cat([]byte("parameters\x00\x01\x00\x00\x00"), deflate("ü, 日本")), "ü, 日本", false},
		{"other keyword", "tEXt", []byte("Comment\x00hello"), "", true},
		{"no separator", "tEXt", []byte("parameters"), "", true},
		{"bad zTXt method", "zTXt", []byte("parameters\x00\x05xx"), "", true},
		{"bad zlib", "zTXt", []byte("parameters\x00\x00notzlib"), "", true},
		{"iTXt truncated", "iTXt", []byte("parameters\x00\x00"), "", true},
		{"iTXt not utf8", "iTXt", []byte("parameters\x00\x00\x00\x00\x00\xff"), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseParameters(withChunk(t, tc.typ, tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseParametersCorrupt(t *testing.T) {
	good, err := Encode(testImage(4, 4), "p")
	if err != nil {
		t.Fatal(err)
	}
	flip := bytes.Clone(good)
	flip[40] ^= 1 // inside the tEXt chunk
	tests := []struct {
		name string
		data []byte
	}{
		{"not png", []byte("GIF89a")},
		{"bad crc", flip},
		{"truncated", good[:38]},
		{"no IEND", good[:33]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseParameters(tc.data); err == nil || errors.Is(err, ErrNoParameters) {
				t.Errorf("err = %v, want a format error", err)
			}
		})
	}
	if _, err := ReadParameters(filepath.Join(t.TempDir(), "none.png")); err == nil {
		t.Error("ReadParameters of a missing file succeeded")
	}
}

func FuzzParseParameters(f *testing.F) {
	for _, s := range []string{"", "a, b", "日本"} {
		data, err := Encode(testImage(2, 2), s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ParseParameters(data) // must not panic
	})
}

func FuzzTextRoundTrip(f *testing.F) {
	f.Add("sunset, oil painting\nSteps: 20")
	f.Add("café 日本")
	img := testImage(2, 2)
	f.Fuzz(func(t *testing.T, s string) {
		data, err := Encode(img, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseParameters(data)
		if s == "" {
			if !errors.Is(err, ErrNoParameters) {
				t.Fatalf("empty text: err = %v, want ErrNoParameters", err)
			}
			return
		}
		want := strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
		if err != nil || got != want {
			t.Fatalf("%q: got %q, %v; want %q", s, got, err, want)
		}
	})
}

// TestWriteErrorNamesThePath: a failed write names the user's path, not
// the temporary file's.
func TestWriteErrorNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "out.png")
	err := Write(path, testImage(4, 4), "p")
	if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), ".tmp") {
		t.Errorf("error %v, want one naming %s", err, path)
	}
}
