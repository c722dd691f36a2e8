package pipeline

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// a1111Samplers maps sampler names to the display names AUTOMATIC1111
// writes in its infotext, so that its PNG Info tab (and tools that parse the
// format, like civitai) recognise them.
var a1111Samplers = map[string]string{
	"ddim":     "DDIM",
	"ddpm":     "DDPM",
	"pndm":     "PLMS",
	"euler":    "Euler",
	"euler_a":  "Euler a",
	"dpmpp_2m": "DPM++ 2M",
	"lms":      "LMS",
	"lcm":      "LCM",
}

// ModelInfo names the model an image was made with, as the infotext
// records it.
type ModelInfo struct {
	Name string // A1111's "Model:", the checkpoint's name
	Hash string // A1111's "Model hash:"
	VAE  string // A1111's "VAE:", the file name of a replacement VAE, or ""
	// Embeddings are the run's textual-inversion embeddings; those a
	// prompt uses are recorded in A1111's "TI hashes:".
	Embeddings []Embedding
}

// InfoText formats r as AUTOMATIC1111's "parameters" text:
//
//	<prompt>
//	Negative prompt: <negative prompt>      (only when one was given, even "")
//	Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: abcdef1234, Model: v1-5-pruned-emaonly
//
// followed on the last line by "VAE: name" when the model's VAE was
// replaced, "Clip skip: N" when N > 1, "Timestep spacing: s", "Prediction:
// p" and "Long prompts: chunk" when they override the defaults, "Eta DDIM:
// x" for DDIM with a non-zero eta, and "Denoising strength: s" for
// image-to-image, "VAE tiling: on" for a tiled decode, "Precision: P"
// for a bf16 or fp32-winograd run, and SDXL's size conditioning where it is not the
// default ("Original size: WxH", "Crop top-left: "top,left"", "Target
// size: WxH"). Empty fields of m are left out. LoRAs given other than by
// a <lora:...> tag in the prompt are recorded as tags after it, and all
// of them in "Lora hashes: "name: hash, ..."", as AUTOMATIC1111 does.
func (r Request) InfoText(m ModelInfo) string {
	modelName, modelHash := m.Name, m.Hash
	var b strings.Builder
	b.WriteString(r.Prompt)
	b.WriteString(r.loraTagsNotInPrompt())
	b.WriteByte('\n')
	if r.negativeGiven() {
		// Even "": an SDXL model conditions on zeros when none was given.
		b.WriteString("Negative prompt: ")
		b.WriteString(r.NegativePrompt)
		b.WriteByte('\n')
	}
	params := []string{
		"Steps: " + strconv.Itoa(r.Steps),
		"Sampler: " + a1111Quote(r.samplerDisplayName()),
		"CFG scale: " + formatFloat(r.CFGScale),
		"Seed: " + strconv.FormatInt(r.Seed, 10),
		fmt.Sprintf("Size: %dx%d", r.Width, r.Height),
	}
	if modelHash != "" {
		params = append(params, "Model hash: "+a1111Quote(modelHash))
	}
	if modelName != "" {
		params = append(params, "Model: "+a1111Quote(modelName))
	}
	if m.VAE != "" {
		params = append(params, "VAE: "+a1111Quote(m.VAE))
	}
	if r.ClipSkip > 1 {
		params = append(params, "Clip skip: "+strconv.Itoa(r.ClipSkip))
	}
	// Settings that change the pixels and have no AUTOMATIC1111 key, written
	// only when they differ from the default.
	if r.TimestepSpacing != "" {
		params = append(params, "Timestep spacing: "+r.TimestepSpacing)
	}
	if r.Prediction != "" {
		params = append(params, "Prediction: "+r.Prediction)
	}
	if r.LongPrompts == "chunk" {
		params = append(params, "Long prompts: chunk")
	}
	// A1111 records eta only for DDIM, under this key.
	if r.Sampler == "ddim" && r.Eta != 0 {
		params = append(params, "Eta DDIM: "+formatFloat(r.Eta))
	}
	if r.InitImage != nil {
		params = append(params, "Denoising strength: "+formatFloat(r.Strength))
	}
	if r.VAETiling == "on" {
		params = append(params, "VAE tiling: on")
	}
	if r.Precision != "" && r.Precision != "fp32" {
		params = append(params, "Precision: "+r.Precision)
	}
	ids := r.SizeIDs()
	if ids[0] != r.Height || ids[1] != r.Width {
		params = append(params, fmt.Sprintf("Original size: %dx%d", ids[1], ids[0]))
	}
	if ids[2] != 0 || ids[3] != 0 {
		params = append(params, "Crop top-left: "+a1111Quote(fmt.Sprintf("%d,%d", ids[2], ids[3])))
	}
	if ids[4] != r.Height || ids[5] != r.Width {
		params = append(params, fmt.Sprintf("Target size: %dx%d", ids[5], ids[4]))
	}
	if h := r.loraHashes(); h != "" {
		params = append(params, "Lora hashes: "+a1111Quote(h))
	}
	if h := r.tiHashes(m.Embeddings); h != "" {
		params = append(params, "TI hashes: "+a1111Quote(h))
	}
	b.WriteString(strings.Join(params, ", "))
	return b.String()
}

func (r Request) samplerDisplayName() string {
	name, ok := a1111Samplers[r.Sampler]
	if !ok {
		name = r.Sampler
	}
	if r.Schedule == "karras" {
		name += " Karras"
	}
	return name
}

// a1111Quote mirrors A1111's quote(): values holding a separator (comma,
// colon or newline) are written as JSON strings so the line still parses.
func a1111Quote(s string) string {
	if !strings.ContainsAny(s, ",:\n") {
		return s
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // json.dumps leaves <, >, & alone
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// formatFloat writes the shortest decimal that reads back as v: 7.5, 7, 0.25.
func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
