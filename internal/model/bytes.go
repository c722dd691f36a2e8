package model

import (
	"io/fs"
	"os"
	"strings"

	builtin "github.com/imggen/imggen/weights"
)

// Bytes is the size of a checkpoint file, or of the .safetensors files of
// a diffusers folder (the built-in model's for Builtin); 0 when unknown.
func Bytes(path string) int64 {
	if path == Builtin {
		return safetensorsBytes(builtin.FS())
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	if !st.IsDir() {
		return st.Size()
	}
	return safetensorsBytes(os.DirFS(path))
}

// safetensorsBytes adds up the sizes of the .safetensors files in fsys.
func safetensorsBytes(fsys fs.FS) int64 {
	var n int64
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".safetensors") {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
