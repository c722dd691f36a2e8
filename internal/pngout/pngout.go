// Package pngout writes generated images as 8-bit RGB PNG files carrying
// the generation settings in a "parameters" text chunk, the format
// AUTOMATIC1111's web UI writes and reads (PNG Info), and reads it back.
//
// Files are written to a temporary file in the target directory and renamed
// into place, so an interrupted run never leaves a truncated image behind.
package pngout

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Keyword is the text chunk keyword A1111 uses for its infotext.
const Keyword = "parameters"

// ErrNoParameters is returned by ReadParameters for a PNG without a
// "parameters" text chunk.
var ErrNoParameters = errors.New("png has no parameters chunk")

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Encode returns img as an 8-bit RGB PNG with parameters stored in a text
// chunk right after IHDR (readers that stop at the first IDAT still see it).
// An empty parameters string writes no chunk. Alpha is discarded.
func Encode(img *image.RGBA, parameters string) ([]byte, error) {
	if img == nil || img.Bounds().Empty() {
		return nil, errors.New("pngout: empty image")
	}
	var buf bytes.Buffer
	// image/png picks colour type 2 (RGB) only for images whose Opaque() is
	// true; force alpha to 255 on a copy if the caller's image is not.
	if err := png.Encode(&buf, opaque(img)); err != nil {
		return nil, fmt.Errorf("pngout: %w", err)
	}
	data := buf.Bytes()
	if parameters == "" {
		return data, nil
	}
	// Signature (8) + IHDR (4 length + 4 type + 13 data + 4 CRC).
	const afterIHDR = 8 + 25
	if len(data) < afterIHDR || string(data[12:16]) != "IHDR" {
		return nil, errors.New("pngout: unexpected encoder output")
	}
	typ, body := textChunk(parameters)
	out := make([]byte, 0, len(data)+len(body)+12)
	out = append(out, data[:afterIHDR]...)
	out = appendChunk(out, typ, body)
	out = append(out, data[afterIHDR:]...)
	return out, nil
}

// Write encodes img (see Encode) and stores it at path atomically: the bytes
// go to a temporary file in the same directory, which is synced and renamed
// over path. On any error the temporary file is removed. The parent
// directory must exist.
func Write(path string, img *image.RGBA, parameters string) (err error) {
	data, err := Encode(img, parameters)
	if err != nil {
		return err
	}
	// Errors name the user's path, not the temporary file's.
	defer func() {
		var pe *os.PathError
		var le *os.LinkError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			err = fmt.Errorf("writing %s: %w", path, pe.Err)
		case errors.As(err, &le):
			err = fmt.Errorf("writing %s: %w", path, le.Err)
		default:
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	// Sync before rename so a crash cannot leave a renamed but empty file.
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	// CreateTemp makes 0600 files; images are ordinary user files.
	if err = os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadParameters returns the text of the "parameters" tEXt, iTXt or zTXt
// chunk of the PNG file at path, or ErrNoParameters if there is none.
func ReadParameters(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return ParseParameters(data)
}

// ParseParameters is ReadParameters on PNG bytes.
func ParseParameters(data []byte) (string, error) {
	if !bytes.HasPrefix(data, pngSignature) {
		return "", errors.New("pngout: not a PNG file")
	}
	p := data[len(pngSignature):]
	for len(p) >= 12 {
		n := binary.BigEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-12) {
			return "", errors.New("pngout: truncated chunk")
		}
		typ, body := string(p[4:8]), p[8:8+n]
		if binary.BigEndian.Uint32(p[8+n:]) != crc32.ChecksumIEEE(p[4:8+n]) {
			return "", fmt.Errorf("pngout: bad CRC in %s chunk", typ)
		}
		p = p[12+n:]
		switch typ {
		case "tEXt", "iTXt", "zTXt":
			kw, text, err := parseText(typ, body)
			if err != nil {
				return "", err
			}
			if kw == Keyword {
				return text, nil
			}
		case "IEND":
			return "", ErrNoParameters
		}
	}
	return "", errors.New("pngout: missing IEND chunk")
}

// opaque returns img itself if it is fully opaque, else a copy with alpha
// set to 255 (the colour channels are kept as they are, not composited).
func opaque(img *image.RGBA) *image.RGBA {
	if img.Opaque() {
		return img
	}
	c := &image.RGBA{Pix: bytes.Clone(img.Pix), Stride: img.Stride, Rect: img.Rect}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := c.Pix[c.PixOffset(b.Min.X, y):c.PixOffset(b.Max.X, y)]
		for i := 3; i < len(row); i += 4 {
			row[i] = 0xff
		}
	}
	return c
}

// textChunk picks tEXt when the text is representable in Latin-1 (the only
// encoding tEXt allows) and uncompressed iTXt (UTF-8) otherwise. NUL bytes
// are dropped: both chunk types use NUL as a separator.
func textChunk(text string) (typ string, body []byte) {
	text = strings.ReplaceAll(strings.ToValidUTF8(text, "\uFFFD"), "\x00", "")
	latin1 := make([]byte, 0, len(text))
	for _, r := range text {
		if r > 0xff {
			latin1 = nil
			break
		}
		latin1 = append(latin1, byte(r))
	}
	if latin1 != nil {
		body = append([]byte(Keyword+"\x00"), latin1...)
		return "tEXt", body
	}
	// keyword NUL, compression flag 0, method 0, empty language tag NUL,
	// empty translated keyword NUL, text.
	body = append([]byte(Keyword+"\x00\x00\x00\x00\x00"), text...)
	return "iTXt", body
}

func appendChunk(out []byte, typ string, body []byte) []byte {
	out = binary.BigEndian.AppendUint32(out, uint32(len(body)))
	start := len(out)
	out = append(out, typ...)
	out = append(out, body...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[start:]))
}

func parseText(typ string, body []byte) (keyword, text string, err error) {
	kw, rest, ok := bytes.Cut(body, []byte{0})
	if !ok {
		return "", "", fmt.Errorf("pngout: malformed %s chunk", typ)
	}
	switch typ {
	case "tEXt":
		return string(kw), latin1ToString(rest), nil
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return "", "", errors.New("pngout: unknown zTXt compression method")
		}
		raw, err := inflate(rest[1:])
		if err != nil {
			return "", "", err
		}
		return string(kw), latin1ToString(raw), nil
	}
	// iTXt: flag, method, language NUL, translated keyword NUL, text.
	if len(rest) < 2 {
		return "", "", errors.New("pngout: malformed iTXt chunk")
	}
	flag, method := rest[0], rest[1]
	_, rest, ok1 := bytes.Cut(rest[2:], []byte{0})
	_, rest, ok2 := bytes.Cut(rest, []byte{0})
	if !ok1 || !ok2 {
		return "", "", errors.New("pngout: malformed iTXt chunk")
	}
	if flag == 1 {
		if method != 0 {
			return "", "", errors.New("pngout: unknown iTXt compression method")
		}
		if rest, err = inflate(rest); err != nil {
			return "", "", err
		}
	}
	if !utf8.Valid(rest) {
		return "", "", errors.New("pngout: iTXt text is not UTF-8")
	}
	return string(kw), string(rest), nil
}

func latin1ToString(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

// inflate decompresses zTXt/iTXt text, bounded so a hostile file cannot
// exhaust memory.
func inflate(b []byte) ([]byte, error) {
	const limit = 16 << 20
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("pngout: compressed text: %w", err)
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("pngout: compressed text: %w", err)
	}
	if len(out) > limit {
		return nil, errors.New("pngout: compressed text too large")
	}
	return out, nil
}
