// Package embedding reads textual-inversion embeddings: vectors that stand
// in a prompt for a word the text encoder never learned. AUTOMATIC1111's
// safetensors files hold "emb_params" [n, dim] (one text encoder); SDXL's
// hold "clip_l" [n, 768] and "clip_g" [n, 1280] (one per encoder); a file
// with a single tensor of another name is read as emb_params, as diffusers
// does. An n-vector embedding takes n token positions.
package embedding

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/imggen/imggen/internal/safetensors"
)

// Vectors are an embedding's rows for one text encoder.
type Vectors struct {
	N, Dim int
	Data   []float32 // [N, Dim]
}

// File is an opened embedding.
type File struct {
	Path string
	Name string // base name without .safetensors: the trigger word by default
	// Single is the one-encoder embedding (SD 1.x/2.x); L and G are SDXL's
	// for its first and second text encoder. Either Single or both L and G.
	Single, L, G *Vectors
	// Hash is AUTOMATIC1111's short hash for "TI hashes": the first 12 hex
	// digits of the file's SHA-256.
	Hash string
}

// maxVectors bounds an embedding: it must fit one 75-token chunk.
const maxVectors = 75

// maxFileBytes bounds what Open reads; embeddings are kilobytes.
const maxFileBytes = 64 << 20

// Open reads an embedding file. Pickles (.pt, .bin) are refused unread.
func Open(path string) (*File, error) {
	sf, err := safetensors.OpenAdapter(path, "embedding", maxFileBytes)
	if err != nil {
		return nil, err
	}
	defer sf.Close()
	f := &File{Path: path, Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))}
	if err := f.read(sf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hash, err := safetensors.SHA256(path, false)
	if err != nil {
		return nil, err
	}
	f.Hash = hash[:12]
	return f, nil
}

func (f *File) read(sf *safetensors.File) error {
	names := sf.Names()
	get := func(name string) (*Vectors, error) {
		info, _ := sf.Info(name)
		shape := info.Shape
		if len(shape) == 1 {
			shape = []int{1, shape[0]}
		}
		if len(shape) != 2 || shape[0] < 1 || shape[0] > maxVectors || shape[1] < 1 {
			return nil, fmt.Errorf("tensor %q has shape %v, not [vectors (1 to %d), width]", name, info.Shape, maxVectors)
		}
		data, err := sf.Float32(name)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		for _, v := range data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("tensor %q holds non-finite values", name)
			}
		}
		return &Vectors{N: shape[0], Dim: shape[1], Data: data}, nil
	}
	has := map[string]bool{}
	for _, n := range names {
		has[n] = true
	}
	var err error
	switch {
	case has["clip_l"] && has["clip_g"] && len(names) == 2:
		if f.L, err = get("clip_l"); err != nil {
			return err
		}
		if f.G, err = get("clip_g"); err != nil {
			return err
		}
		if f.L.N != f.G.N {
			return fmt.Errorf("clip_l has %d vectors and clip_g %d", f.L.N, f.G.N)
		}
	case len(names) == 1:
		f.Single, err = get(names[0])
		return err
	case len(names) == 0:
		return fmt.Errorf("no tensors")
	default:
		return fmt.Errorf("%d tensors (%s); an embedding has one (emb_params) or clip_l and clip_g", len(names), strings.Join(names[:min(4, len(names))], ", "))
	}
	return nil
}

// Count is the number of vectors (token positions) the embedding takes.
func (f *File) Count() int {
	if f.Single != nil {
		return f.Single.N
	}
	return f.L.N
}

// describe says what the file holds, for errors.
func (f *File) describe() string {
	if f.Single != nil {
		return fmt.Sprintf("a one-encoder embedding %d wide", f.Single.Dim)
	}
	return fmt.Sprintf("an SDXL embedding (clip_l %d wide, clip_g %d wide)", f.L.Dim, f.G.Dim)
}

// For returns the vectors for text encoders of the given widths: one
// (SD 1.x/2.x) takes a one-encoder embedding of that width, two (SDXL)
// take clip_l and clip_g.
func (f *File) For(widths []int) ([]*Vectors, error) {
	what := fmt.Sprintf("a text encoder %d wide", widths[0])
	if len(widths) == 2 {
		what = fmt.Sprintf("text encoders %d and %d wide (SDXL)", widths[0], widths[1])
	}
	fail := fmt.Errorf("embedding %s is %s; the model has %s", f.Name, f.describe(), what)
	switch {
	case len(widths) == 1 && f.Single != nil && f.Single.Dim == widths[0]:
		return []*Vectors{f.Single}, nil
	case len(widths) == 2 && f.L != nil && f.L.Dim == widths[0] && f.G.Dim == widths[1]:
		return []*Vectors{f.L, f.G}, nil
	}
	return nil, fail
}

// Summary describes an embedding file for imggen inspect.
type Summary struct {
	Format  string `json:"format"` // "AUTOMATIC1111 (one text encoder)" or "SDXL (clip_l + clip_g)"
	Vectors int    `json:"vectors"`
	Widths  []int  `json:"widths"`
	Family  string `json:"family"`
	Hash    string `json:"hash"`
}

// Summarize describes f.
func (f *File) Summarize() Summary {
	if f.Single != nil {
		fam := map[int]string{768: "SD 1.x", 1024: "SD 2.x"}[f.Single.Dim]
		if fam == "" {
			fam = "unknown"
		}
		return Summary{Format: "one text encoder (AUTOMATIC1111 emb_params)", Vectors: f.Single.N, Widths: []int{f.Single.Dim}, Family: fam, Hash: f.Hash}
	}
	return Summary{Format: "SDXL (clip_l + clip_g)", Vectors: f.L.N, Widths: []int{f.L.Dim, f.G.Dim}, Family: "SDXL", Hash: f.Hash}
}

// LooksLikeEmbedding reports whether tensor names are an embedding's:
// emb_params, or clip_l and clip_g.
func LooksLikeEmbedding(names []string) bool {
	switch len(names) {
	case 1:
		return names[0] == "emb_params" || names[0] == "*" || strings.HasPrefix(names[0], "string_to_param")
	case 2:
		return (names[0] == "clip_g" && names[1] == "clip_l") || (names[0] == "clip_l" && names[1] == "clip_g")
	}
	return false
}
