// Package lora reads LoRA files (kohya / AUTOMATIC1111 and diffusers /
// PEFT formats, LoCon convolutions included) and finds the model layer
// each of their modules updates. A module holds the low-rank pair and its
// alpha; the update of layer W at strength s is
//
//	W x + s·(alpha/rank)·up(down(x))
//
// which AUTOMATIC1111, diffusers/peft and kohya agree on. Other LyCORIS
// kinds (LoHa, LoKr, DoRA, ...) and keys this package does not understand
// are refused with the kind and the first such keys: a file is applied
// whole or not at all.
package lora

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/imggen/imggen/internal/safetensors"
)

// Formats.
const (
	Kohya = "kohya"     // lora_unet_* / lora_te*_*, .lora_down / .lora_up / .alpha
	PEFT  = "diffusers" // unet.* / text_encoder*.*, .lora_A / .lora_B (or .lora.down / .lora.up)
)

// Module is one layer's low-rank pair.
type Module struct {
	Key        string // the module's name in the file, e.g. lora_unet_..._to_q
	Down, Up   []float32
	DownShape  []int // [r, in] or [r, in, k, k]
	UpShape    []int // [out, r] or [out, r, 1, 1]
	Alpha      float64
	Rank       int
	componentH string // what the key says of its component: unet, te, te1, te2, text_encoder, ...
	name       string // the rest of the key: a layer name in some spelling
}

// Scale is alpha/rank, the module's own factor before the user's strength.
func (m *Module) Scale() float64 { return m.Alpha / float64(m.Rank) }

// File is an opened LoRA.
type File struct {
	Path     string
	Name     string // base name without .safetensors
	Format   string
	Modules  []*Module
	Metadata map[string]string
	// Hash is AUTOMATIC1111's short hash for "Lora hashes": the first 12
	// hex digits of the SHA-256 of the file's data after the header (the
	// "addnet" hash, which metadata edits do not change).
	Hash string
}

// maxFileBytes bounds what Open reads: a LoRA is at most a few hundred MB.
const maxFileBytes = 4 << 30

// Open reads a LoRA file. Pickles are refused unread.
func Open(path string) (*File, error) {
	sf, err := safetensors.OpenAdapter(path, "LoRA", maxFileBytes)
	if err != nil {
		return nil, err
	}
	defer sf.Close()
	f := &File{Path: path, Name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), Metadata: sf.Metadata()}
	if err := f.read(sf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	hash, err := safetensors.SHA256(path, true)
	if err != nil {
		return nil, err
	}
	f.Hash = hash[:12]
	return f, nil
}

// otherKinds are LyCORIS and other adapter kinds, by the last part of a
// key that only they use.
var otherKinds = map[string]string{
	"hada_w1_a": "LoHa", "hada_w1_b": "LoHa", "hada_w2_a": "LoHa", "hada_w2_b": "LoHa", "hada_t1": "LoHa", "hada_t2": "LoHa",
	"lokr_w1": "LoKr", "lokr_w2": "LoKr", "lokr_w1_a": "LoKr", "lokr_w1_b": "LoKr", "lokr_w2_a": "LoKr", "lokr_w2_b": "LoKr", "lokr_t2": "LoKr",
	"dora_scale": "DoRA", "lora_magnitude_vector": "DoRA", "oft_blocks": "OFT", "oft_diag": "OFT", "on_input": "IA3",
	"diff": "full-weight difference", "diff_b": "full-weight difference", "lora_mid": "LoCon with a CP-decomposed middle (lora_mid)",
}

// otherKind names the adapter kind of a key that is no LoRA's ("" if none).
func otherKind(k string) string {
	parts := strings.Split(k, ".")
	for _, p := range parts[max(1, len(parts)-2):] { // the last part, or the one before ".weight"
		if kind, ok := otherKinds[p]; ok {
			return kind
		}
	}
	return ""
}

// part names the pieces of one module in either format.
type part int

const (
	partDown part = iota
	partUp
	partAlpha
)

// splitKey returns the module and the part of a tensor key, and the format.
func splitKey(k string) (module string, p part, format string, ok bool) {
	for _, s := range []struct {
		suffix, format string
		p              part
	}{
		{".lora_down.weight", Kohya, partDown}, {".lora_up.weight", Kohya, partUp},
		{".lora_A.weight", PEFT, partDown}, {".lora_B.weight", PEFT, partUp},
		{".lora.down.weight", PEFT, partDown}, {".lora.up.weight", PEFT, partUp},
		{".lora_linear_layer.down.weight", PEFT, partDown}, {".lora_linear_layer.up.weight", PEFT, partUp},
		{".alpha", "", partAlpha},
	} {
		if m, found := strings.CutSuffix(k, s.suffix); found {
			return m, s.p, s.format, true
		}
	}
	return "", 0, "", false
}

func (f *File) read(sf *safetensors.File) error {
	var unknown []string
	mods := map[string]*Module{}
	get := func(name string) *Module {
		m := mods[name]
		if m == nil {
			m = &Module{Key: name}
			mods[name] = m
		}
		return m
	}
	for _, k := range sf.Names() {
		if kind := otherKind(k); kind != "" {
			return fmt.Errorf("this is a %s file (key %q); imggen applies LoRA and LoCon only", kind, k)
		}
		name, p, format, ok := splitKey(k)
		if !ok {
			unknown = append(unknown, k)
			continue
		}
		if format != "" {
			if f.Format != "" && f.Format != format {
				return fmt.Errorf("mixes kohya (lora_down/lora_up) and diffusers (lora_A/lora_B) keys, e.g. %q", k)
			}
			f.Format = format
		}
		info, _ := sf.Info(k)
		m := get(name)
		switch p {
		case partAlpha:
			v, err := sf.Float32(k)
			if err != nil || len(v) != 1 {
				return fmt.Errorf("alpha %q: not one number (%v)", k, info.Shape)
			}
			m.Alpha = float64(v[0])
		case partDown, partUp:
			if len(info.Shape) != 2 && len(info.Shape) != 4 {
				return fmt.Errorf("tensor %q has shape %v, not a 2-D or 4-D LoRA weight", k, info.Shape)
			}
			v, err := sf.Float32(k)
			if err != nil {
				return fmt.Errorf("tensor %q: %w", k, err)
			}
			for _, x := range v {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return fmt.Errorf("tensor %q holds non-finite values", k)
				}
			}
			if p == partDown {
				m.Down, m.DownShape = v, info.Shape
			} else {
				m.Up, m.UpShape = v, info.Shape
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("%d keys are no LoRA's (not .lora_down/.lora_up/.alpha or .lora_A/.lora_B), e.g. %s", len(unknown), strings.Join(unknown[:min(3, len(unknown))], ", "))
	}
	if len(mods) == 0 {
		return errors.New("no LoRA modules in the file")
	}
	for _, m := range mods {
		switch {
		case m.Down == nil || m.Up == nil:
			return fmt.Errorf("module %q has no %s weight", m.Key, map[bool]string{true: "down (A)", false: "up (B)"}[m.Down == nil])
		case m.DownShape[0] < 1 || len(m.UpShape) < 2 || m.UpShape[1] != m.DownShape[0]:
			return fmt.Errorf("module %q: down %v and up %v are no low-rank pair", m.Key, m.DownShape, m.UpShape)
		}
		m.Rank = m.DownShape[0]
		if m.Alpha == 0 {
			m.Alpha = float64(m.Rank) // no alpha: scale 1, as kohya and peft read it
		}
		if !(m.Alpha > 0) || math.IsInf(m.Alpha, 0) {
			return fmt.Errorf("module %q: alpha %g", m.Key, m.Alpha)
		}
		m.componentH, m.name = splitComponent(m.Key, f.Format)
		f.Modules = append(f.Modules, m)
	}
	sort.Slice(f.Modules, func(i, j int) bool { return f.Modules[i].Key < f.Modules[j].Key })
	return nil
}

// splitComponent splits a module name into what it says of its component
// and the rest: "lora_te1_text_model_..." -> ("te1", "text_model_..."),
// "unet.down_blocks.0..." -> ("unet", "down_blocks.0...").
func splitComponent(key, format string) (string, string) {
	if format == Kohya {
		for _, c := range []string{"unet", "te1", "te2", "te"} {
			if rest, ok := strings.CutPrefix(key, "lora_"+c+"_"); ok {
				return c, rest
			}
		}
		return "", key
	}
	for _, c := range []string{"unet", "text_encoder_2", "text_encoder"} {
		if rest, ok := strings.CutPrefix(key, c+"."); ok {
			return c, rest
		}
	}
	return "", key
}

// Target is one network a LoRA may update.
type Target struct {
	Component string   // "unet", "text_encoder", "text_encoder_2"
	Prefixes  []string // what module keys call it: "unet", "te" / "te1" / "te2" (kohya), "text_encoder" (diffusers)
	// Names maps every spelling of a layer's name that a file may use (the
	// dotted diffusers name, it with "." -> "_" as kohya writes it, the
	// original SGM block name for SDXL's U-Net) to the layer's key prefix.
	Names map[string]string
}

// Binding is a module and the layer it updates.
type Binding struct {
	Module    *Module
	Component string // the target's component
	Layer     string // the layer's key prefix there
}

// Resolve finds the layer of every module among targets, or says which
// modules fit none (all or nothing).
func (f *File) Resolve(targets []Target) ([]Binding, error) {
	var missing []string
	var out []Binding
	for _, m := range f.Modules {
		found := false
		for _, t := range targets {
			if !slices.Contains(t.Prefixes, m.componentH) {
				continue
			}
			if l, ok := t.Names[m.name]; ok {
				out = append(out, Binding{m, t.Component, l})
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, m.Key)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	return nil, fmt.Errorf("%s (a LoRA for %s): %d of %d modules match no layer of this model, e.g. %s",
		f.Name, f.Summarize().Family, len(missing), len(f.Modules), strings.Join(missing[:min(3, len(missing))], ", "))
}

// Flat is a layer name as kohya writes it: dots as underscores.
func Flat(name string) string { return strings.ReplaceAll(name, ".", "_") }

// Summary describes a LoRA file for imggen inspect.
type Summary struct {
	Format     string         `json:"format"`
	Modules    int            `json:"modules"`
	Ranks      []int          `json:"ranks"`
	Alphas     []float64      `json:"alphas"`
	Components map[string]int `json:"components"` // modules per network: unet, text_encoder, text_encoder_2
	Kinds      map[string]int `json:"kinds"`      // linear, conv1x1, conv3x3, ...
	Family     string         `json:"family"`     // what the names and widths say it was trained for
	BaseModel  string         `json:"base_model,omitempty"`
	Hash       string         `json:"hash"`
}

// Summarize describes f.
func (f *File) Summarize() Summary {
	s := Summary{Format: f.Format, Modules: len(f.Modules), Components: map[string]int{}, Kinds: map[string]int{},
		BaseModel: f.Metadata["ss_base_model_version"], Hash: f.Hash}
	ranks, alphas := map[int]bool{}, map[float64]bool{}
	xl := false
	crossWidth := 0
	for _, m := range f.Modules {
		ranks[m.Rank], alphas[m.Alpha] = true, true
		comp := map[string]string{"unet": "unet", "te": "text_encoder", "te1": "text_encoder", "text_encoder": "text_encoder",
			"te2": "text_encoder_2", "text_encoder_2": "text_encoder_2"}[m.componentH]
		s.Components[comp]++
		kind := "linear"
		if len(m.DownShape) == 4 {
			kind = fmt.Sprintf("conv%dx%d", m.DownShape[2], m.DownShape[3])
		}
		s.Kinds[kind]++
		if comp == "text_encoder_2" || strings.Contains(m.name, "input_blocks") || strings.Contains(m.name, "output_blocks") || strings.Contains(m.name, "middle_block") {
			xl = true
		}
		if comp == "unet" && (strings.HasSuffix(m.name, "attn2_to_k") || strings.HasSuffix(m.name, "attn2.to_k")) {
			crossWidth = m.DownShape[1]
		}
	}
	for r := range ranks {
		s.Ranks = append(s.Ranks, r)
	}
	for a := range alphas {
		s.Alphas = append(s.Alphas, a)
	}
	sort.Ints(s.Ranks)
	sort.Float64s(s.Alphas)
	switch {
	case xl || crossWidth == 2048:
		s.Family = "SDXL"
	case crossWidth == 768:
		s.Family = "SD 1.x"
	case crossWidth == 1024:
		s.Family = "SD 2.x"
	case crossWidth > 0:
		s.Family = fmt.Sprintf("SD 1.x/2.x layout (cross-attention %d wide)", crossWidth)
	default:
		s.Family = "SD 1.x/2.x layout (no cross-attention layer to tell the width by)"
	}
	return s
}

// LooksLikeLoRA reports whether tensor names are an adapter's (LoRA,
// LoCon or another LyCORIS kind) rather than a model's or an embedding's.
func LooksLikeLoRA(names []string) bool {
	for _, k := range names {
		if _, _, _, ok := splitKey(k); ok && !strings.HasSuffix(k, ".alpha") {
			return true
		}
		if otherKind(k) != "" {
			return true
		}
	}
	return false
}
