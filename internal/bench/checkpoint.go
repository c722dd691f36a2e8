// Package bench measures the engine on Stable Diffusion 1.5's real shapes
// without the real weights: it writes deterministic random-weight
// checkpoints with SD 1.5's exact single-file key names and shapes (Spec,
// Write), counts the work of each network analytically (UNetFLOPs,
// VAEDecodeFLOPs, TextFLOPs), and runs a stage-timed generation (Run).
package bench

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

// Spec describes a random-weight checkpoint in the original single-file
// (LDM/CompVis) layout.
type Spec struct {
	UNet unet.Config
	VAE  vae.Config
	Text textenc.Config
	// Text2, when set, is SDXL's second text encoder (the U-Net then has
	// SDXL's added conditioning and the file SDXL's names).
	Text2 *textenc.Config
	// DType is "f16" or "f32": the storage type of every weight.
	DType string
	// Seed selects the values; the same Spec gives the same bytes.
	Seed uint64
	// PositionIDs adds the text encoder's position_ids buffer (I64
	// [1, positions]) that real SD 1.x files carry; loaders ignore it.
	PositionIDs bool
}

// SD15 is the Spec of a checkpoint shaped exactly like
// v1-5-pruned-emaonly.safetensors.
func SD15(dtype string, seed uint64) Spec {
	return Spec{UNet: unet.SD15(), VAE: vae.SD15(), Text: textenc.SD15(), DType: dtype, Seed: seed, PositionIDs: true}
}

// SDXL is the Spec of a checkpoint shaped exactly like
// sd_xl_base_1.0.safetensors (6.9 GB in f16).
func SDXL(dtype string, seed uint64) Spec {
	u := unet.Config{
		InChannels: 4, OutChannels: 4, BlockOutChannels: []int{320, 640, 1280},
		DownBlockTypes: []string{"DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"},
		UpBlockTypes:   []string{"CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"},
		LayersPerBlock: 2, AttentionHeadDim: unet.IntOrList{5, 10, 20}, CrossAttentionDim: 2048,
		NormNumGroups: 32, NormEps: 1e-5, FlipSinToCos: true, UseLinearProjection: true, SampleSize: 128, ActFn: "silu",
		TransformerLayersPerBlock: unet.IntOrList{1, 2, 10}, AdditionEmbedType: "text_time",
		AdditionTimeEmbedDim: 256, ProjectionClassEmbeddingsInputDim: 2816,
	}
	v := vae.SD15()
	v.ScalingFactor, v.SampleSize = 0.13025, 1024
	bigG := textenc.Config{
		VocabSize: 49408, HiddenSize: 1280, IntermediateSize: 5120, NumHiddenLayers: 32, NumAttentionHeads: 20,
		MaxPositionEmbeddings: 77, HiddenAct: "gelu", LayerNormEps: 1e-5,
	}.WithProjection(1280)
	return Spec{UNet: u, VAE: v, Text: textenc.SD15(), Text2: &bigG, DType: dtype, Seed: seed, PositionIDs: true}
}

// positionIDs is the text encoder buffer's diffusers key.
const positionIDs = "text_model.embeddings.position_ids"

// Tensor is one tensor of a generated checkpoint.
type Tensor struct {
	Name      string // single-file name, e.g. model.diffusion_model.out.2.weight
	Component string // model.CompUNet, model.CompVAE or model.CompText
	Key       string // diffusers name within the component
	DType     string // safetensors dtype: F16, F32 (I64 for position_ids)
	Shape     []int  // as stored
}

// Numel is the number of values of the tensor.
func (t Tensor) Numel() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// Bytes is the tensor's size in the file.
func (t Tensor) Bytes() int64 { return t.Numel() * int64(dtypeSize[t.DType]) }

// IsParam reports whether the tensor is a weight (not a buffer).
func (t Tensor) IsParam() bool { return t.Key != positionIDs }

var dtypeSize = map[string]int{"F16": 2, "F32": 4, "I64": 8}

func (s Spec) storageDType() (string, error) {
	switch s.DType {
	case "f16":
		return "F16", nil
	case "f32":
		return "F32", nil
	}
	return "", fmt.Errorf("dtype %q: want f16 or f32", s.DType)
}

// Tensors lists the checkpoint's tensors, sorted by name. The key set is
// not written down anywhere: the three networks are built over key
// recorders (weights.KeyRecorder), so it is exactly what the loaders ask
// for, and model.LDMName gives each key its single-file name and shape.
// Building SD 1.5's networks this way allocates about 1 GB for a moment
// (the layers' own buffers), not the weights.
func (s Spec) Tensors() ([]Tensor, error) {
	dt, err := s.storageDType()
	if err != nil {
		return nil, err
	}
	recs := []struct {
		comp string
		rec  *weights.KeyRecorder
		load func(weights.Loader) error
	}{
		{model.CompUNet, &weights.KeyRecorder{}, func(l weights.Loader) error { _, err := unet.Load(s.UNet, l); return err }},
		{model.CompVAE, &weights.KeyRecorder{}, func(l weights.Loader) error { _, err := vae.Load(s.VAE, l); return err }},
		{model.CompText, &weights.KeyRecorder{}, func(l weights.Loader) error {
			_, err := textenc.LoadTextModel(s.Text, l)
			return err
		}},
	}
	if s.Text2 != nil {
		recs = append(recs, struct {
			comp string
			rec  *weights.KeyRecorder
			load func(weights.Loader) error
		}{model.CompText2, &weights.KeyRecorder{}, func(l weights.Loader) error {
			_, err := textenc.LoadTextModel(*s.Text2, l)
			return err
		}})
	}
	lay := model.NewLDMLayout(s.UNet, s.VAE)
	var ts []Tensor
	seen := map[string]bool{}
	for _, r := range recs {
		if err := r.load(weights.NewLoader(r.rec)); err != nil {
			return nil, err
		}
		for _, k := range r.rec.Keys {
			name, shape, err := model.LDMName(r.comp, k.Name, k.Shape, lay)
			if err != nil {
				return nil, err
			}
			if name == "" {
				continue // stored within another tensor (OpenCLIP's fused in_proj)
			}
			if seen[name] {
				return nil, fmt.Errorf("%s: tensor %q asked for twice", r.comp, name)
			}
			seen[name] = true
			ts = append(ts, Tensor{Name: name, Component: r.comp, Key: k.Name, DType: dt, Shape: shape})
		}
	}
	if s.PositionIDs {
		name, _, err := model.LDMName(model.CompText, positionIDs, nil, lay)
		if err != nil {
			return nil, err
		}
		ts = append(ts, Tensor{Name: name, Component: model.CompText, Key: positionIDs, DType: "I64",
			Shape: []int{1, s.Text.MaxPositionEmbeddings}})
	}
	slices.SortFunc(ts, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return ts, nil
}

// Params counts the parameters (buffers excluded) of each component.
func Params(ts []Tensor) map[string]int64 {
	p := map[string]int64{}
	for _, t := range ts {
		if t.IsParam() {
			p[t.Component] += t.Numel()
		}
	}
	return p
}

// Summary describes a written checkpoint.
type Summary struct {
	Path    string
	Tensors int
	Params  map[string]int64 // per component
	Bytes   int64            // file size
}

// Write writes the checkpoint to path. The data is generated and written
// tensor by tensor in small chunks, never held whole; the file appears under
// its name only when complete (it is written to a temporary file in the
// same directory and renamed). Write checks the free disk space first and
// stops, removing the temporary file, when ctx is cancelled.
func Write(ctx context.Context, path string, s Spec) (Summary, error) {
	ts, err := s.Tensors()
	if err != nil {
		return Summary{}, err
	}
	return write(ctx, path, s, ts, true)
}

// write is Write of the tensors ts of s; without fill the data section is
// left as a sparse hole of zeros (a file with the real header and size, for
// tests of the key set).
func write(ctx context.Context, path string, s Spec, ts []Tensor, fill bool) (sum Summary, err error) {
	header, order, dataLen, err := buildHeader(ts, s)
	if err != nil {
		return sum, err
	}
	size := int64(len(header)) + dataLen
	dir := filepath.Dir(path)
	if fill {
		if free, ok := freeSpace(dir); ok && free < size+diskMargin {
			return sum, fmt.Errorf("not enough disk space in %s for %s: %s free, %s needed (with a %s margin)",
				dir, path, fmtBytes(free), fmtBytes(size+diskMargin), fmtBytes(diskMargin))
		}
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return sum, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(header); err != nil {
		return sum, err
	}
	if fill {
		buf := make([]byte, 1<<20)
		for _, t := range order {
			if err = ctx.Err(); err != nil {
				return sum, err
			}
			if err = fillTensor(f, t, s.Seed, buf); err != nil {
				return sum, err
			}
		}
	} else if err = f.Truncate(size); err != nil {
		return sum, err
	}
	if err = f.Chmod(0o644); err != nil { // CreateTemp makes it private
		return sum, err
	}
	if err = f.Close(); err != nil {
		return sum, err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return sum, err
	}
	return Summary{Path: path, Tensors: len(ts), Params: Params(ts), Bytes: size}, nil
}

// diskMargin is the space Write leaves free beyond the file.
const diskMargin = 256 << 20

type headerEntry struct {
	DType       string  `json:"dtype"`
	Shape       []int   `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// buildHeader returns the 8-byte length and the JSON header (names sorted,
// padded with spaces so the data starts 8-byte aligned), the order the data
// is laid out in (largest element size first, then by name, as the
// safetensors library does, so every tensor is aligned to its element
// size), and the data length.
func buildHeader(ts []Tensor, s Spec) ([]byte, []Tensor, int64, error) {
	order := slices.Clone(ts)
	slices.SortStableFunc(order, func(a, b Tensor) int { return dtypeSize[b.DType] - dtypeSize[a.DType] })
	entries := map[string]any{
		"__metadata__": map[string]string{
			"format":    "pt",
			"generator": "imggen mkcheckpoint",
			"weights":   "deterministic random values, not a trained model",
			"seed":      strconv.FormatUint(s.Seed, 10),
			"dtype":     s.DType,
		},
	}
	var off int64
	for _, t := range order {
		entries[t.Name] = headerEntry{DType: t.DType, Shape: t.Shape, DataOffsets: []int64{off, off + t.Bytes()}}
		off += t.Bytes()
	}
	js, err := json.Marshal(entries) // map keys come out sorted
	if err != nil {
		return nil, nil, 0, err
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	return append(binary.LittleEndian.AppendUint64(nil, uint64(len(js))), js...), order, off, nil
}

// Init is the distribution a tensor's values are drawn from: uniform on
// [Center-HalfWidth, Center+HalfWidth].
type Init struct{ Center, HalfWidth float64 }

// InitFor gives the values' distribution by the tensor's role, scaled so
// that activations keep about unit variance through the networks:
// convolution and linear weights have variance 1/fan_in (fan_in = input
// channels x kernel area), embeddings standard deviation 0.02, norm weights
// are 1 ± 0.05, biases ± 0.01 (all rank-1 weights of SD are norm scales).
func InitFor(key string, shape []int) Init {
	const sqrt3 = 1.7320508075688772
	switch {
	case len(shape) >= 2 && strings.Contains(key, "embedding"):
		return Init{0, 0.02 * sqrt3}
	case len(shape) >= 2:
		fanIn := 1
		for _, d := range shape[1:] {
			fanIn *= d
		}
		return Init{0, sqrt3 / math.Sqrt(float64(fanIn))}
	case strings.HasSuffix(key, ".weight"):
		return Init{1, 0.05}
	}
	return Init{0, 0.01}
}

// fillTensor writes t's values: a PCG stream seeded by the seed and the
// FNV-1a hash of the tensor's name, so each tensor's values depend on
// nothing else.
func fillTensor(w io.Writer, t Tensor, seed uint64, buf []byte) error {
	n := t.Numel()
	size := int64(dtypeSize[t.DType])
	if t.DType == "I64" { // position_ids: 0, 1, 2, ...
		for i := int64(0); i < n; {
			m := min(n-i, int64(len(buf))/size)
			for j := int64(0); j < m; j++ {
				binary.LittleEndian.PutUint64(buf[8*j:], uint64(i+j))
			}
			if _, err := w.Write(buf[:m*size]); err != nil {
				return err
			}
			i += m
		}
		return nil
	}
	h := fnv.New64a()
	h.Write([]byte(t.Name))
	rng := rand.NewPCG(seed, h.Sum64())
	in := InitFor(t.Key, t.Shape)
	c, a := float32(in.Center), float32(in.HalfWidth)
	for i := int64(0); i < n; {
		m := min(n-i, int64(len(buf))/size)
		b := buf[:m*size]
		if size == 2 {
			for j := 0; j+1 < len(b); j += 2 {
				u := float32(rng.Uint64()>>40) * 0x1p-24 // [0, 1)
				h := f32ToF16(c + a*(2*u-1))
				b[j], b[j+1] = byte(h), byte(h>>8)
			}
		} else {
			for j := 0; j+3 < len(b); j += 4 {
				u := float32(rng.Uint64()>>40) * 0x1p-24
				binary.LittleEndian.PutUint32(b[j:], math.Float32bits(c+a*(2*u-1)))
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		i += m
	}
	return nil
}

// fmtBytes formats a byte count in GB (10^9) or MB.
func fmtBytes(b int64) string {
	if b >= 1e9 {
		return fmt.Sprintf("%.2f GB", float64(b)/1e9)
	}
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}
