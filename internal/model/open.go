package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/imggen/imggen/internal/safetensors"
	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
)

// Component indices and their diffusers folder names.
const (
	compUNet = iota
	compVAE
	compText
	compText2 // SDXL's second text encoder; nil for other families
	numComps
)

var compNames = [numComps]string{"unet", "vae", "text_encoder", "text_encoder_2"}

// sd1PadID is <|endoftext|>, which SD 1.x's tokenizer pads with.
const sd1PadID = 49407

// opened is what Load and Inspect share: the files are open, the keys
// mapped and the configs derived; problem says why Load must refuse it.
type opened struct {
	name, layout     string
	family           *Family // nil: no family's keys
	problem          string
	cfgErr           error
	comps            [numComps]*Component
	files            []*safetensors.File
	weightFiles      []string
	ignored, unknown []string
	unet             unet.Config
	vae              vae.Config
	text, text2      textenc.Config // text2: SDXL's second encoder
	scheduler        []byte
	padID, pad2      int
	// keepZeros is false when model_index.json says
	// force_zeros_for_empty_prompt false.
	keepZeros bool
	hash      func() (string, error) // full hex SHA-256 of the file the model hash reads
	metadata  map[string]string
}

// familyName is the family's name, "unknown" when the keys are no family's.
func (o *opened) familyName() string {
	if o.family == nil {
		return "unknown"
	}
	return o.family.Name
}

func (o *opened) close() {
	for _, f := range o.files {
		f.Close()
	}
	o.files = nil
}

// pickleExts are PyTorch pickle formats, refused by name before any byte is read.
var pickleExts = map[string]bool{".ckpt": true, ".pt": true, ".pth": true, ".bin": true, ".pkl": true, ".pickle": true}

func pickleError(path string) error {
	return fmt.Errorf("%s is a PyTorch pickle checkpoint; imggen refuses pickles because loading one can run arbitrary code. "+
		"Use the model's .safetensors download instead, or convert it once in Python: "+
		`python -c "import torch, safetensors.torch as st; sd = torch.load('model.ckpt', map_location='cpu', weights_only=True); sd = sd.get('state_dict', sd); st.save_file({k: v.contiguous().clone() for k, v in sd.items() if isinstance(v, torch.Tensor)}, 'model.safetensors')"`+
		" (for a diffusers folder with .bin weights: DiffusionPipeline.from_pretrained(dir).save_pretrained(out, safe_serialization=True))", path)
}

// hasPickleMagic reports whether the file starts like a pickle (protocol 2+)
// or a zip archive (torch.save's default format). It is only consulted after
// a safetensors parse failed, since a valid safetensors header length can
// begin with the same bytes.
func hasPickleMagic(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return false
	}
	return (b[0] == 0x80 && b[1] >= 2 && b[1] <= 5) || bytes.Equal(b[:], []byte("PK\x03\x04"))
}

func open(path string) (*opened, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("model %s does not exist", path)
		}
		return nil, err
	}
	if st.IsDir() {
		return openDiffusers(osFolder(path))
	}
	if pickleExts[strings.ToLower(filepath.Ext(path))] {
		return nil, pickleError(path)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("model %s is not a regular file", path)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("model %s is an empty file", path)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		if hasPickleMagic(path) {
			return nil, pickleError(path)
		}
		return nil, err
	}
	o := &opened{
		name:        strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)),
		layout:      SingleFile,
		files:       []*safetensors.File{f},
		weightFiles: []string{path},
		hash:        func() (string, error) { return safetensors.SHA256(path, false) },
		metadata:    f.Metadata(),
		padID:       sd1PadID,
	}
	y, err := sidecarYAML(path)
	if err != nil {
		o.close()
		return nil, err
	}
	mapSingleFile(o, fileTensors(f), y)
	return o, nil
}

// readSmall reads a config file, refusing anything implausibly large so a
// hostile folder cannot make us allocate much.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	const limit = 8 << 20
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// folder is a diffusers model folder: a directory on disk (whose weights
// are memory-mapped) or any fs.FS, such as the built-in model embedded in the
// binary (whose weights are read into memory).
type folder struct {
	fsys fs.FS
	dir  string // the directory on disk; "" for a folder that is not one
	name string // for messages and the model's name
}

func osFolder(dir string) folder {
	name := dir
	if abs, err := filepath.Abs(dir); err == nil {
		name = abs
	}
	return folder{fsys: os.DirFS(dir), dir: dir, name: name}
}

// path names rel for messages.
func (f folder) path(rel string) string {
	if rel == "" && f.dir != "" {
		return f.dir // as the user wrote it ("./builtin", not "builtin")
	}
	if f.dir != "" {
		return filepath.Join(f.dir, filepath.FromSlash(rel))
	}
	return f.name + ":" + rel
}

func (f folder) exists(rel string) bool {
	_, err := fs.Stat(f.fsys, rel)
	return err == nil
}

// readSmall reads a config file, refusing anything implausibly large so a
// hostile folder cannot make us allocate much.
func (f folder) readSmall(rel string) ([]byte, error) {
	r, err := f.fsys.Open(rel)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	const limit = 8 << 20
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", f.path(rel), limit)
	}
	return b, nil
}

func (f folder) openWeights(rel string) (*safetensors.File, error) {
	if f.dir != "" {
		return safetensors.Open(f.path(rel))
	}
	b, err := fs.ReadFile(f.fsys, rel)
	if err != nil {
		return nil, err
	}
	return safetensors.Parse(b)
}

// hash returns the hex SHA-256 of a file of the folder.
func (f folder) hash(rel string) (string, error) {
	r, err := f.fsys.Open(rel)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("hashing %s: %w", f.path(rel), err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func openDiffusers(dir folder) (*opened, error) {
	if !dir.exists("model_index.json") {
		return nil, fmt.Errorf("%s is a directory without model_index.json: not a diffusers model folder "+
			"(expected model_index.json with unet/, vae/, text_encoder/, tokenizer/ and scheduler/ beside it)", dir.path(""))
	}
	idxBytes, err := dir.readSmall("model_index.json")
	if err != nil {
		return nil, err
	}
	var index map[string]json.RawMessage
	if err := json.Unmarshal(idxBytes, &index); err != nil {
		return nil, fmt.Errorf("%s: %v", dir.path("model_index.json"), err)
	}
	o := &opened{name: filepath.Base(dir.name), layout: Diffusers, padID: sd1PadID}
	if raw, ok := index["force_zeros_for_empty_prompt"]; ok && string(raw) == "false" {
		o.keepZeros = true
	}
	ok := false
	defer func() {
		if !ok {
			o.close()
		}
	}()
	for c := 0; c < numComps; c++ {
		name := compNames[c]
		if !listed(index, name) && (c == compText2 || c == compText && listed(index, "text_encoder_2")) {
			continue // SD 1.x/2.x have no second encoder, SDXL's refiner no first
		}
		wpath, err := diffusersWeights(dir, name)
		if err != nil {
			return nil, err
		}
		f, err := dir.openWeights(wpath)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir.path(wpath), err)
		}
		o.files = append(o.files, f)
		o.weightFiles = append(o.weightFiles, dir.path(wpath))
		comp := newComponent(name)
		for _, key := range f.Names() {
			in, _ := f.Info(key)
			comp.add(diffusersAlias(c, key), entry{file: f, stored: key, dtype: in.DType, shape: in.Shape, bytes: in.End - in.Begin})
		}
		comp.sortNames()
		o.comps[c] = comp
		if c == compUNet {
			o.hash = func() (string, error) { return dir.hash(wpath) }
		}
	}
	if err := readDiffusersConfigs(o, dir); err != nil {
		return nil, err
	}
	if sched, err := dir.readSmall("scheduler/scheduler_config.json"); err == nil {
		if !json.Valid(sched) {
			return nil, fmt.Errorf("%s: scheduler/scheduler_config.json is not valid JSON", dir.path(""))
		}
		o.scheduler = sched
	}
	pad, padName, err := tokenizerPad(dir, "tokenizer")
	if err != nil {
		return nil, err
	}
	o.padID = pad
	if o.comps[compText2] != nil {
		if o.pad2, _, err = tokenizerPad(dir, "tokenizer_2"); err != nil {
			return nil, err
		}
	}
	var class string
	json.Unmarshal(index["_class_name"], &class) // a missing or odd name is no family's
	o.family = diffusersFamily(folderFacts{index: index, class: class, unet: o.unet, text: o.text, pad: padName})
	o.problem = o.family.Refused
	if o.family == SDXL && o.comps[compText] == nil {
		o.problem = sdxlRefiner
	} else if o.comps[compText] == nil {
		o.problem = "model_index.json names no text_encoder"
	}
	ok = true
	return o, nil
}

// listed reports whether model_index.json names a component (a missing
// component is absent or [null, null]).
func listed(index map[string]json.RawMessage, name string) bool {
	var v []*string
	if json.Unmarshal(index[name], &v) != nil {
		return false
	}
	return len(v) == 2 && v[0] != nil && v[1] != nil
}

// diffusersWeights picks a component's weights file: the standard name, else
// the fp16 variant. Pickle-only and sharded components get an explanation.
func diffusersWeights(dir folder, comp string) (string, error) {
	base := "diffusion_pytorch_model"
	if strings.HasPrefix(comp, "text_encoder") {
		base = "model"
	}
	if !dir.exists(comp) {
		return "", fmt.Errorf("diffusers folder %s has no %s/ directory", dir.path(""), comp)
	}
	for _, n := range []string{base + ".safetensors", base + ".fp16.safetensors"} {
		if p := comp + "/" + n; dir.exists(p) {
			return p, nil
		}
	}
	for _, n := range []string{base + ".bin", base + ".fp16.bin"} {
		if p := comp + "/" + n; dir.exists(p) {
			return "", pickleError(dir.path(p))
		}
	}
	if dir.exists(comp + "/" + base + ".safetensors.index.json") {
		return "", fmt.Errorf("%s: sharded weights (%s.safetensors.index.json) are not supported", dir.path(comp), base)
	}
	return "", fmt.Errorf("%s: no %s.safetensors (or .fp16.safetensors) weights file", dir.path(comp), base)
}

// diffusersAlias renames the VAE attention keys that diffusers releases
// before 0.14 wrote (query/key/value/proj_attn), which some published SD 1.x
// folders still carry, to the current names.
func diffusersAlias(comp int, key string) string {
	if comp != compVAE || !strings.Contains(key, ".attentions.") {
		return key
	}
	for old, cur := range map[string]string{".query.": ".to_q.", ".key.": ".to_k.", ".value.": ".to_v.", ".proj_attn.": ".to_out.0."} {
		if strings.Contains(key, old) {
			return strings.Replace(key, old, cur, 1)
		}
	}
	return key
}

func readDiffusersConfigs(o *opened, dir folder) error {
	// Start from the SD 1.x values so that keys an older config.json lacks
	// (e.g. the VAE's scaling_factor) get the SD 1.x value.
	o.unet, o.vae, o.text, o.text2 = unet.SD15(), vae.SD15(), textenc.SD15(), textenc.SD15()
	type config struct {
		file string
		dst  any
	}
	configs := []config{{"unet/config.json", &o.unet}, {"vae/config.json", &o.vae}}
	if o.comps[compText] != nil {
		configs = append(configs, config{"text_encoder/config.json", &o.text})
	}
	if o.comps[compText2] != nil {
		configs = append(configs, config{"text_encoder_2/config.json", &o.text2})
	}
	for _, c := range configs {
		b, err := dir.readSmall(c.file)
		if err != nil {
			return fmt.Errorf("diffusers folder: %w", err)
		}
		if err := json.Unmarshal(b, c.dst); err != nil {
			return fmt.Errorf("%s: %v", dir.path(c.file), err)
		}
	}
	// One form for what a single file's shapes give too: a tower without
	// a projection says nothing of one, depth 1 everywhere is no depth.
	for _, t := range []*textenc.Config{&o.text, &o.text2} {
		if !t.Projected() {
			t.Architectures, t.ProjectionDim = nil, 0
		}
	}
	if d := o.unet.TransformerLayersPerBlock; slices.Max(append([]int{1}, d...)) == 1 && slices.Min(append([]int{1}, d...)) == 1 {
		o.unet.TransformerLayersPerBlock = nil
	}
	return nil
}

// tokenizerPad reads the pad token from tok/special_tokens_map.json
// (or tokenizer_config.json) and returns its id; SD 1.x pads with
// <|endoftext|>, SD 2.x with "!". A folder without a tokenizer gets SD 1.x's.
func tokenizerPad(dir folder, tok string) (int, string, error) {
	var pad string
	for _, n := range []string{tok + "/special_tokens_map.json", tok + "/tokenizer_config.json"} {
		b, err := dir.readSmall(n)
		if err != nil {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return 0, "", fmt.Errorf("%s: %v", dir.path(n), err)
		}
		raw, ok := m["pad_token"]
		if !ok {
			continue
		}
		// Either a string or {"content": "..."}.
		var s string
		if json.Unmarshal(raw, &s) != nil {
			var obj struct{ Content string }
			if json.Unmarshal(raw, &obj) != nil {
				return 0, "", fmt.Errorf("%s: pad_token is neither a string nor an object", dir.path(n))
			}
			s = obj.Content
		}
		pad = s
		break
	}
	switch pad {
	case "", "<|endoftext|>":
		return sd1PadID, pad, nil
	case "!":
		return 0, pad, nil
	}
	// Anything else: look it up in the vocabulary.
	b, err := dir.readSmall(tok + "/vocab.json")
	if err != nil {
		return 0, "", fmt.Errorf("tokenizer pad token %q: %w", pad, err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(b, &vocab); err != nil {
		return 0, "", fmt.Errorf("%s: %v", dir.path(tok+"/vocab.json"), err)
	}
	id, ok := vocab[pad]
	if !ok {
		return 0, "", fmt.Errorf("tokenizer pad token %q is not in vocab.json", pad)
	}
	return id, pad, nil
}
