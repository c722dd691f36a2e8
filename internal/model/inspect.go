package model

import (
	"encoding/json"
	"fmt"
	builtin "github.com/imggen/imggen/weights"
	"io/fs"
	"sort"
	"strings"

	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
	"github.com/imggen/imggen/internal/vae"
)

// Report describes a checkpoint for `imggen inspect`. An unsupported but
// readable checkpoint (SD 2.x, SDXL, a lone component) still gets a report,
// with Supported false and Problem saying why.
type Report struct {
	Path       string            `json:"path"`
	Name       string            `json:"name"`
	Layout     string            `json:"layout"`
	Arch       string            `json:"arch"`
	Kind       string            `json:"kind,omitempty"` // "base", "refiner", "turbo-like (...)"
	Supported  bool              `json:"supported"`
	Problem    string            `json:"problem,omitempty"`
	Files      []string          `json:"files"`
	Components []ComponentReport `json:"components"`
	// Keys of a single file that are not loaded: Ignored are known to be
	// unneeded (EMA weights, DDPM buffers, position_ids), Unknown are not
	// understood.
	Ignored        int               `json:"ignored_keys"`
	Unknown        int               `json:"unknown_keys"`
	UnknownSamples []string          `json:"unknown_samples,omitempty"`
	UNet           *unet.Config      `json:"unet,omitempty"`
	VAE            *vae.Config       `json:"vae,omitempty"`
	Text           *textenc.Config   `json:"text_encoder,omitempty"`
	Text2          *textenc.Config   `json:"text_encoder_2,omitempty"` // SDXL's second encoder
	PadID          int               `json:"pad_id"`
	PadID2         *int              `json:"pad_id_2,omitempty"`
	Scheduler      json.RawMessage   `json:"scheduler,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// ComponentReport summarises one component's tensors.
type ComponentReport struct {
	Name    string         `json:"name"`
	Tensors int            `json:"tensors"`
	Params  int64          `json:"params"`
	Bytes   int64          `json:"bytes"`
	DTypes  map[string]int `json:"dtypes"`
}

const maxUnknownSamples = 10

// Inspect opens the checkpoint at path and describes it without loading any
// weights. It fails only when the path cannot be read as a checkpoint at all
// (missing, empty, corrupt, a pickle).
func Inspect(path string) (Report, error) {
	if path == Builtin {
		return InspectFS(builtin.FS(), builtin.Name)
	}
	o, err := open(path)
	if err != nil {
		return Report{}, err
	}
	return inspect(o, path), nil
}

// InspectFS describes a diffusers folder held in fsys (see LoadFS).
func InspectFS(fsys fs.FS, name string) (Report, error) {
	o, err := openDiffusers(folder{fsys: fsys, name: name})
	if err != nil {
		return Report{}, err
	}
	return inspect(o, name), nil
}

func inspect(o *opened, path string) Report {
	defer o.close()
	r := Report{
		Path: path, Name: o.name, Layout: o.layout, Arch: o.familyName(),
		Problem: o.problem, Files: o.weightFiles, PadID: o.padID,
		Ignored: len(o.ignored), Unknown: len(o.unknown), Metadata: o.metadata,
	}
	if len(o.scheduler) > 0 {
		r.Scheduler = json.RawMessage(o.scheduler)
	}
	r.UnknownSamples = o.unknown[:min(len(o.unknown), maxUnknownSamples)]
	for _, c := range o.comps {
		if c == nil {
			continue
		}
		cr := ComponentReport{Name: c.Name, DTypes: map[string]int{}}
		for _, n := range c.names {
			e := c.entries[n]
			cr.Tensors++
			cr.Bytes += e.bytes
			cr.DTypes[e.dtype]++
			p := int64(1)
			for _, d := range e.shape {
				p *= int64(d)
			}
			cr.Params += p
		}
		r.Components = append(r.Components, cr)
	}
	if o.problem == "" && o.cfgErr != nil {
		r.Problem = o.cfgErr.Error()
	}
	if r.Problem == "" && o.family != nil {
		if err := o.validate(); err != nil {
			r.Problem = err.Error()
		}
	}
	// A folder's configs are read, not inferred, so show them even for an
	// architecture Load refuses.
	if o.cfgErr == nil && (o.problem == "" || o.layout == Diffusers) {
		u, v, t := o.unet, o.vae, o.text
		r.UNet, r.VAE, r.Text = &u, &v, &t
		if o.comps[compText2] != nil {
			t2, pad2 := o.text2, o.pad2
			r.Text2, r.PadID2 = &t2, &pad2
		}
	}
	r.Kind = kind(o)
	r.Supported = r.Problem == ""
	return r
}

// kind tells the variants of a family apart: SDXL's refiner, and the
// few-step models (SD-Turbo, SDXL-Turbo, Lightning-style) whose scheduler
// configuration asks for trailing timestep spacing.
func kind(o *opened) string {
	var s struct {
		Spacing string `json:"timestep_spacing"`
	}
	json.Unmarshal(o.scheduler, &s) // an odd config is no few-step model's
	switch {
	case o.problem == sdxlRefiner:
		return "refiner"
	case s.Spacing == "trailing":
		return "turbo-like (few steps: its scheduler uses trailing timestep spacing)"
	case o.family == SDXL:
		return "base"
	}
	return ""
}

// JSON returns the report as indented JSON.
func (r Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// String renders the report for people.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "model:        %s\n", r.Name)
	fmt.Fprintf(&b, "path:         %s\n", r.Path)
	fmt.Fprintf(&b, "layout:       %s\n", r.Layout)
	if r.Kind != "" {
		fmt.Fprintf(&b, "architecture: %s, %s\n", r.Arch, r.Kind)
	} else {
		fmt.Fprintf(&b, "architecture: %s\n", r.Arch)
	}
	if r.Supported {
		fmt.Fprintf(&b, "supported:    yes\n")
	} else {
		fmt.Fprintf(&b, "supported:    no: %s\n", r.Problem)
	}
	for _, f := range r.Files {
		fmt.Fprintf(&b, "file:         %s\n", f)
	}
	var total int64
	for _, c := range r.Components {
		dts := make([]string, 0, len(c.DTypes))
		for dt, n := range c.DTypes {
			dts = append(dts, fmt.Sprintf("%s x%d", dt, n))
		}
		sort.Strings(dts)
		if len(dts) == 0 {
			dts = []string{"no tensors"}
		}
		fmt.Fprintf(&b, "%-15s %5d tensors, %s parameters, %s (%s)\n", c.Name+":", c.Tensors, count(c.Params), size(c.Bytes), strings.Join(dts, ", "))
		total += c.Params
	}
	fmt.Fprintf(&b, "total:        %s parameters\n", count(total))
	if r.Layout == SingleFile {
		fmt.Fprintf(&b, "not loaded:   %d ignored keys, %d unknown keys\n", r.Ignored, r.Unknown)
		for _, k := range r.UnknownSamples {
			fmt.Fprintf(&b, "  unknown:    %s\n", k)
		}
	}
	if r.UNet != nil {
		u := r.UNet
		fmt.Fprintf(&b, "unet:         in %d, out %d, channels %v, %d layers/block, heads %v, context %d, blocks %v / %v, sample size %d\n",
			u.InChannels, u.OutChannels, u.BlockOutChannels, u.LayersPerBlock, []int(u.AttentionHeadDim), u.CrossAttentionDim, u.DownBlockTypes, u.UpBlockTypes, u.SampleSize)
		if len(u.TransformerLayersPerBlock) > 0 {
			fmt.Fprintf(&b, "transformers: depth %v per level\n", []int(u.TransformerLayersPerBlock))
		}
		if u.TextTime() {
			fmt.Fprintf(&b, "conditioning: pooled text embedding + %d size ids (original size, crop top-left, target size) x %d channels -> %d, added to the time embedding\n",
				(u.ProjectionClassEmbeddingsInputDim-r.pooledDim())/max(u.AdditionTimeEmbedDim, 1), u.AdditionTimeEmbedDim, u.ProjectionClassEmbeddingsInputDim)
		}
		if r.VAE != nil && u.InChannels == 2*r.VAE.LatentChannels+1 {
			fmt.Fprintf(&b, "inpainting:   yes (the U-Net also takes the mask and the masked image's latents)\n")
		}
	}
	if r.VAE != nil {
		v := r.VAE
		fmt.Fprintf(&b, "vae:          in %d, out %d, latent %d, channels %v, %d layers/block, scaling %g, sample size %d\n",
			v.InChannels, v.OutChannels, v.LatentChannels, v.BlockOutChannels, v.LayersPerBlock, v.ScalingFactor, v.SampleSize)
	}
	for _, t := range []struct {
		label string
		cfg   *textenc.Config
		pad   int
	}{{"text encoder:", r.Text, r.PadID}, {"text enc. 2:", r.Text2, derefOr(r.PadID2, 0)}} {
		if t.cfg == nil {
			continue
		}
		c := t.cfg
		proj := ""
		if c.Projected() {
			proj = fmt.Sprintf(", projection %d", c.ProjectionDim)
		}
		fmt.Fprintf(&b, "%-13s vocab %d, hidden %d, %d layers, %d heads, mlp %d, %d positions, %s%s, pad id %d\n",
			t.label, c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.MaxPositionEmbeddings, c.HiddenAct, proj, t.pad)
	}
	if r.Text == nil {
		fmt.Fprintf(&b, "pad id:       %d\n", r.PadID)
	}
	if r.Scheduler != nil {
		var s struct {
			Class      string `json:"_class_name"`
			Prediction string `json:"prediction_type"`
		}
		json.Unmarshal(r.Scheduler, &s)
		src := "scheduler_config.json"
		if r.Layout == SingleFile {
			src = "as diffusers' from_single_file builds it"
		}
		if s.Prediction == "" {
			s.Prediction = "epsilon"
		}
		fmt.Fprintf(&b, "scheduler:    %s, %s (%s)\n", s.Class, s.Prediction, src)
	}
	return b.String()
}

// pooledDim is the width of the pooled text embedding the U-Net takes.
func (r Report) pooledDim() int {
	if r.Text2 != nil {
		return r.Text2.ProjectionDim
	}
	return 0
}

func derefOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func count(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fG", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
