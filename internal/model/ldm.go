package model

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/imggen/imggen/internal/safetensors"
)

// Key prefixes of the original (LDM/CompVis) single-file layout.
const (
	ldmUNet     = "model.diffusion_model."
	ldmVAE      = "first_stage_model."
	ldmText     = "cond_stage_model.transformer."
	ldmOpenCLIP = "cond_stage_model.model." // SD 2.x text tower
	ldmSDXL     = "conditioner.embedders."  // SDXL text towers
	// SDXL base: CLIP ViT-L as transformers names it, then OpenCLIP
	// ViT-bigG; a refiner has only the latter, as embedder 0.
	sdxlCLIP        = ldmSDXL + "0.transformer."
	sdxlOpenCLIP    = ldmSDXL + "1.model."
	sdxlRefinerText = ldmSDXL + "0.model."
	ldmTextIDs      = "embeddings.position_ids" // a buffer, not a weight
)

// keyKind classifies a single-file key.
type keyKind int

const (
	keyMapped     keyKind = iota
	keyIgnored            // known and not needed (EMA copy, DDPM buffers, ...)
	keyUnknown            // not understood; skipped
	keyTransposed         // mapped, stored transposed (OpenCLIP's text_projection)
)

// ldmBuffers are training-time tensors real SD checkpoints carry at top level.
var ldmBuffers = map[string]bool{
	"betas": true, "alphas_cumprod": true, "alphas_cumprod_prev": true,
	"sqrt_alphas_cumprod": true, "sqrt_one_minus_alphas_cumprod": true,
	"log_one_minus_alphas_cumprod": true, "sqrt_recip_alphas_cumprod": true,
	"sqrt_recipm1_alphas_cumprod": true, "posterior_variance": true,
	"posterior_log_variance_clipped": true, "posterior_mean_coef1": true,
	"posterior_mean_coef2": true, "logvar": true, "model_ema.decay": true,
	"model_ema.num_updates": true,
}

// ldmLayout is what the key mapping needs to know about the block structure,
// read from the key names themselves, and the naming rules it gives.
type ldmLayout struct {
	unetLayers int // resnets per UNet down level (layers_per_block)
	unetLevels int // UNet down levels
	vaeUp      int // VAE decoder levels, numbered in reverse in LDM
	unet, vae  []prefixRule
}

// storedTensor is one tensor of a file, as the key mapping sees it.
type storedTensor struct {
	file *safetensors.File
	info safetensors.Info
}

func fileTensors(f *safetensors.File) []storedTensor {
	ts := make([]storedTensor, 0, len(f.Names()))
	for _, n := range f.Names() {
		in, _ := f.Info(n)
		ts = append(ts, storedTensor{f, in})
	}
	return ts
}

// mapSingleFile fills o's components from a single-file checkpoint's tensors
// and derives the family and configs.
func mapSingleFile(o *opened, ts []storedTensor, y *ldmConfig) {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.info.Name
	}
	keys := keySet(names)
	f := singleFileFamily(keys, y)
	o.family, o.problem = f, singleFileProblem(f, keys, y)
	if f != nil {
		o.padID = f.PadID
	}
	var towerKeys []func(string) ([]string, keyKind)
	if f != nil {
		for _, tw := range f.towers {
			mk := clipKeys(tw.prefix)
			if tw.keys != nil {
				mk = tw.keys(names)
			}
			towerKeys = append(towerKeys, mk)
		}
	}

	lay := ldmLayoutOf(names)
	for c := range o.comps {
		o.comps[c] = newComponent(compNames[c])
	}
	if f == nil || len(f.towers) < 2 {
		o.comps[compText2] = nil
	}
tensors:
	for _, t := range ts {
		name, in := t.info.Name, t.info
		e := entry{file: t.file, stored: name, dtype: in.DType, shape: in.Shape, bytes: in.End - in.Begin}
		for i, tw := range towerKeysOf(f) {
			if strings.HasPrefix(name, tw.prefix) {
				o.addTextKey(compText+i, name, e, towerKeys[i])
				continue tensors
			}
		}
		comp, key, kind := mapLDMKey(name, lay)
		switch kind {
		case keyIgnored:
			o.ignored = append(o.ignored, name)
			continue
		case keyUnknown:
			o.unknown = append(o.unknown, name)
			continue
		}
		if comp == compVAE && isVAEAttnWeight(key) && len(e.shape) == 4 && e.shape[2] == 1 && e.shape[3] == 1 {
			// LDM's 1x1 convs are diffusers' linears: same data, [C, C].
			e.shape = e.shape[:2]
		}
		if !o.comps[comp].add(key, e) {
			o.unknown = append(o.unknown, name)
		}
	}
	for _, c := range o.comps {
		if c != nil {
			c.sortNames()
		}
	}
	if o.problem == "" {
		o.cfgErr = inferConfigs(o, f, y)
	}
	if o.problem == "" && o.cfgErr == nil && f.scheduler != nil {
		o.scheduler = f.scheduler(y)
	}
}

// towerKeysOf is f's towers (none for nil).
func towerKeysOf(f *Family) []tower {
	if f == nil {
		return nil
	}
	return f.towers
}

// addTextKey maps one key of a text tower into component c.
func (o *opened) addTextKey(c int, name string, e entry, mapKey func(string) ([]string, keyKind)) {
	keys, kind := mapKey(name)
	switch kind {
	case keyIgnored:
		o.ignored = append(o.ignored, name)
		return
	case keyUnknown:
		o.unknown = append(o.unknown, name)
		return
	case keyTransposed:
		if len(e.shape) != 2 {
			o.unknown = append(o.unknown, name)
			return
		}
		e.shape, e.transposed = []int{e.shape[1], e.shape[0]}, true
	}
	if len(keys) == 3 { // fused in_proj: rows q, k, v
		if len(e.shape) < 1 || e.shape[0]%3 != 0 {
			o.unknown = append(o.unknown, name)
			return
		}
		for p, k := range keys {
			pe := e
			pe.shape = append([]int{e.shape[0] / 3}, e.shape[1:]...)
			pe.part, pe.partial = p, true
			pe.bytes = e.bytes / 3
			if !o.comps[c].add(k, pe) {
				o.unknown = append(o.unknown, name)
			}
		}
		return
	}
	if !o.comps[c].add(keys[0], e) {
		o.unknown = append(o.unknown, name)
	}
}

// clipKeys maps the keys of a transformers CLIPTextModel stored under
// prefix (SD 1.x's cond_stage_model.transformer., SDXL's first tower).
func clipKeys(prefix string) func(string) ([]string, keyKind) {
	return func(name string) ([]string, keyKind) {
		key := strings.TrimPrefix(name, prefix)
		// transformers before 4.x had no "text_model." level.
		if !strings.HasPrefix(key, "text_model.") {
			key = "text_model." + key
		}
		if strings.HasSuffix(key, ldmTextIDs) {
			return nil, keyIgnored
		}
		return []string{key}, keyMapped
	}
}

// singleFileProblem says why Load must refuse a single file whose keys are
// family f's (nil: no family's), or "" when it can run.
func singleFileProblem(f *Family, k keySet, y *ldmConfig) string {
	switch {
	case f != nil && f.Refused != "":
		return f.Refused
	case f == SDXL && k.has(sdxlRefinerText):
		return sdxlRefiner
	case f != nil && !k.has(ldmUNet) && k.has(f.towers[0].prefix):
		return "the checkpoint has a " + f.Name + " text encoder but no U-Net (" + ldmUNet + "* tensors)"
	case f == nil || !k.has(ldmUNet):
		if k.has("down_blocks.") || k.has("encoder.down_blocks.") || k.has("text_model.") {
			return "this is one component of a diffusers model; pass the folder that holds model_index.json"
		}
		return "no " + ldmUNet + "* tensors: not a Stable Diffusion checkpoint (a LoRA, embedding or VAE-only file?)"
	case !k.has(ldmVAE):
		return "the checkpoint has no VAE (" + ldmVAE + "* tensors)"
	case !k.has(f.towers[0].prefix) && y != nil && k.has(ldmText):
		return f.Name + " checkpoint (per " + y.path + ") without its text encoder (" + f.towers[0].prefix + "* tensors): the file and its yaml do not match"
	}
	for _, tw := range f.towers {
		if !k.has(tw.prefix) {
			return "the checkpoint has no text encoder (" + tw.prefix + "* tensors)"
		}
	}
	return ""
}

// openCLIPKeys maps an SD 2.x file's OpenCLIP text keys (mapOpenCLIPKey),
// skipping the tower's last resblock, which SD 2.x does not use.
func openCLIPKeys(names []string) func(string) ([]string, keyKind) {
	last := -1
	for _, n := range names {
		if i, ok := openCLIPBlock(n); ok && i > last {
			last = i
		}
	}
	return func(k string) ([]string, keyKind) { return mapOpenCLIPKey(strings.TrimPrefix(k, ldmOpenCLIP), last) }
}

// sd2SchedulerConfig is the scheduler config diffusers 0.27.2's
// from_single_file builds for an SD 2.x checkpoint: a DDIMScheduler config
// (scaled_linear betas from the yaml's linear_start/linear_end, steps_offset
// 1, no clipping, set_alpha_to_one false, prediction_type v_prediction for
// parameterization "v", epsilon otherwise) turned into PNDMScheduler with
// skip_prk_steps, its default scheduler_type "pndm".
func sd2SchedulerConfig(y *ldmConfig) []byte {
	start, end, pred := 0.00085, 0.012, "v_prediction"
	if y != nil {
		if y.linearStart > 0 {
			start = y.linearStart
		}
		if y.linearEnd > 0 {
			end = y.linearEnd
		}
		if !y.vPrediction {
			pred = "epsilon"
		}
	}
	return []byte(fmt.Sprintf(`{"_class_name": "PNDMScheduler", "num_train_timesteps": 1000, "beta_start": %s, "beta_end": %s, `+
		`"beta_schedule": "scaled_linear", "steps_offset": 1, "clip_sample": false, "set_alpha_to_one": false, `+
		`"skip_prk_steps": true, "prediction_type": %q}`,
		strconv.FormatFloat(start, 'g', -1, 64), strconv.FormatFloat(end, 'g', -1, 64), pred))
}

// openCLIPBlock returns i for a key of the OpenCLIP tower's resblock i.
func openCLIPBlock(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, ldmOpenCLIP+"transformer.resblocks.")
	if !ok {
		return 0, false
	}
	return atoi(strings.SplitN(rest, ".", 2)[0])
}

var openCLIPBlockKeys = [][2]string{
	{"ln_1.", "layer_norm1."}, {"ln_2.", "layer_norm2."}, {"attn.out_proj.", "self_attn.out_proj."},
	{"mlp.c_fc.", "mlp.fc1."}, {"mlp.c_proj.", "mlp.fc2."},
}

// mapOpenCLIPKey maps an SD 2.x OpenCLIP text key (prefix removed) to
// diffusers' CLIPTextModel names, as diffusers'
// convert_open_clip_checkpoint does. The fused attention in_proj weight and
// bias give three keys (q, k, v: rows 0..C-1, C..2C-1, 2C..3C-1). The last
// resblock (last) is skipped: SD 2.x uses the penultimate layer's output, and
// diffusers' text encoder is the tower without its last layer.
func mapOpenCLIPKey(k string, last int) ([]string, keyKind) {
	const tm = "text_model."
	switch k {
	case "token_embedding.weight":
		return []string{tm + "embeddings.token_embedding.weight"}, keyMapped
	case "positional_embedding":
		return []string{tm + "embeddings.position_embedding.weight"}, keyMapped
	case "text_projection", "logit_scale", "attn_mask":
		return nil, keyIgnored
	}
	if r, ok := strings.CutPrefix(k, "ln_final."); ok {
		return []string{tm + "final_layer_norm." + r}, keyMapped
	}
	rest, ok := strings.CutPrefix(k, "transformer.resblocks.")
	if !ok {
		return nil, keyUnknown
	}
	idx, r, _ := strings.Cut(rest, ".")
	i, ok := atoi(idx)
	if !ok {
		return nil, keyUnknown
	}
	if i == last {
		return nil, keyIgnored
	}
	pre := fmt.Sprintf("%sencoder.layers.%d.", tm, i)
	switch r {
	case "attn.in_proj_weight", "attn.in_proj_bias":
		suf := "weight"
		if strings.HasSuffix(r, "bias") {
			suf = "bias"
		}
		return []string{pre + "self_attn.q_proj." + suf, pre + "self_attn.k_proj." + suf, pre + "self_attn.v_proj." + suf}, keyMapped
	}
	if m, ok := renamePrefix(r, openCLIPBlockKeys); ok {
		return []string{pre + m}, keyMapped
	}
	return nil, keyUnknown
}

func isVAEAttnWeight(key string) bool {
	if !strings.Contains(key, "mid_block.attentions.") || !strings.HasSuffix(key, ".weight") {
		return false
	}
	for _, p := range []string{".to_q.", ".to_k.", ".to_v.", ".to_out.0."} {
		if strings.Contains(key, p) {
			return true
		}
	}
	return false
}

// ldmLayoutOf reads layers-per-block and the VAE depth from key names: the
// first UNet downsampler sits at input_blocks.{layers+1}, and the VAE
// decoder's levels are decoder.up.0 .. up.{n-1}.
func ldmLayoutOf(names []string) ldmLayout {
	lay := ldmLayout{unetLayers: -1}
	maxInput := 0
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, ldmUNet+"input_blocks."); ok {
			p := strings.SplitN(rest, ".", 4)
			k, ok := atoi(p[0])
			if !ok {
				continue
			}
			maxInput = max(maxInput, k)
			if len(p) >= 3 && p[1] == "0" && p[2] == "op" && (lay.unetLayers < 0 || k-1 < lay.unetLayers) {
				lay.unetLayers = k - 1
			}
		}
		if rest, ok := strings.CutPrefix(n, ldmVAE+"decoder.up."); ok {
			if i, ok := atoi(strings.SplitN(rest, ".", 2)[0]); ok && i+1 > lay.vaeUp && i < 1<<10 {
				lay.vaeUp = i + 1
			}
		}
	}
	if lay.unetLayers < 0 {
		// One level, no downsampler: every input block after conv_in is a layer.
		lay.unetLayers = maxInput
	}
	lay.unetLevels = 1
	if maxInput > 0 {
		lay.unetLevels = (maxInput-1)/(lay.unetLayers+1) + 1
	}
	lay.unet, lay.vae = unetRules(lay.unetLayers, lay.unetLevels, nil), vaeRules(lay.vaeUp)
	return lay
}

// atoi parses a block index: plain decimal digits only, bounded.
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 6 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// mapLDMKey maps one single-file key to its component and diffusers key,
// following the rules of diffusers' convert_original_stable_diffusion script.
func mapLDMKey(name string, lay ldmLayout) (int, string, keyKind) {
	switch {
	case strings.HasPrefix(name, "model_ema.") || ldmBuffers[name] ||
		strings.HasPrefix(name, "lpips") || strings.HasPrefix(name, ldmVAE+"loss."):
		return 0, "", keyIgnored
	case strings.HasPrefix(name, ldmUNet):
		key, ok := toDiffusers(lay.unet, strings.TrimPrefix(name, ldmUNet))
		return compUNet, key, known(ok)
	case strings.HasPrefix(name, ldmVAE):
		key, ok := toDiffusers(lay.vae, strings.TrimPrefix(name, ldmVAE))
		return compVAE, key, known(ok)
	case strings.HasPrefix(name, ldmText):
		keys, kind := clipKeys(ldmText)(name)
		if kind != keyMapped {
			return 0, "", kind
		}
		return compText, keys[0], keyMapped
	}
	return 0, "", keyUnknown
}

func known(ok bool) keyKind {
	if ok {
		return keyMapped
	}
	return keyUnknown
}

// renamePrefix replaces the first matching prefix of s.
func renamePrefix(s string, table [][2]string) (string, bool) {
	for _, r := range table {
		if rest, ok := strings.CutPrefix(s, r[0]); ok {
			return r[1] + rest, true
		}
	}
	return "", false
}
