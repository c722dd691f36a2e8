// Package weights holds imggen's built-in model: a small latent diffusion
// model (CLIP-style text transformer, U-Net, KL VAE in Stable Diffusion's
// architecture) that the project trained on its procedural world (see
// train/README.md). It is a diffusers folder in float16, embedded into the
// binary and loaded by the same code as any other diffusers folder.
package weights

import (
	"embed"
	"io/fs"
)

// Name is how the built-in model is named in messages and PNG metadata.
const Name = "builtin"

//go:embed builtin
var files embed.FS

// FS returns the built-in model's diffusers folder.
func FS() fs.FS {
	sub, err := fs.Sub(files, "builtin")
	if err != nil {
		panic(err) // the embedded tree always has it
	}
	return sub
}
