package safetensors

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// OpenAdapter opens a small add-on file (a LoRA, an embedding: what names
// it in messages) of at most maxBytes. Only .safetensors is read: a
// PyTorch pickle is refused unread, since loading one can run arbitrary
// code.
func OpenAdapter(path, what string, maxBytes int64) (*File, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
	case ".ckpt", ".pt", ".pth", ".bin", ".pkl":
		return nil, fmt.Errorf("%s is a PyTorch pickle; imggen reads %ss only as .safetensors (loading a pickle can run arbitrary code)", path, what)
	default:
		return nil, fmt.Errorf("%s: a %s must be a .safetensors file", path, what)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxBytes {
		return nil, fmt.Errorf("%s: %d bytes is too large for a %s", path, st.Size(), what)
	}
	return Open(path)
}

// SHA256 is the hex SHA-256 of the file at path, of all of it or (data
// true) of the data after the header, as AUTOMATIC1111's LoRA ("addnet")
// hash takes it.
func SHA256(path string, data bool) (string, error) {
	r, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if data {
		var n [8]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return "", fmt.Errorf("hashing %s: %w", path, err)
		}
		if _, err := r.Seek(8+int64(binary.LittleEndian.Uint64(n[:])), io.SeekStart); err != nil {
			return "", fmt.Errorf("hashing %s: %w", path, err)
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
