package model

import (
	"encoding/json"
	"strings"

	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/unet"
)

// Family is one kind of Stable Diffusion model: what tells its checkpoints
// apart in either layout, and what differs between kinds that a checkpoint
// does not say itself. Detection asks the registered families in order
// (families, most specific first), so a new family is its own value and
// files (key mapping, config inference) plus one line in families.
// Variants that only change a config, such as the 9-channel inpainting
// U-Nets or the built-in model, belong to the family they share keys with.
type Family struct {
	Name string // as inspect and messages show it: "SD 1.x"
	// Refused, when set, is why imggen does not run this family (yet);
	// inspect still describes its checkpoints.
	Refused string
	// PadID is the id its tokenizer pads prompts with; a diffusers folder's
	// tokenizer files may name another.
	PadID int

	// singleFile reports whether a single file's keys (and its sidecar
	// yaml, nil when there is none) are this family's.
	singleFile func(k keySet, y *ldmConfig) bool
	// diffusers reports whether a diffusers folder's model_index.json,
	// configs and tokenizer pad token are this family's.
	diffusers func(d folderFacts) bool
	// textPrefix is the key prefix of a single file's text encoder.
	textPrefix string
	// textKeys, when set, maps the single-file text encoder keys (names
	// lists every key of the file); otherwise they map as SD 1.x's.
	textKeys func(names []string) func(key string) ([]string, keyKind)
	// inferText derives a single file's text encoder config from its shapes.
	inferText func(*Component) (textenc.Config, error)
	// adjustUNet, when set, completes the shape-inferred U-Net config of a
	// single file with what the family fixes (SD 2.x's head size).
	adjustUNet func(*unet.Config, *ldmConfig) error
	// scheduler, when set, is the scheduler configuration diffusers'
	// from_single_file gives a single file of the family; nil leaves the
	// pipeline's default (SD 1.5's).
	scheduler func(*ldmConfig) []byte
}

// The families imggen knows.
var (
	SD1 = &Family{
		Name:       "SD 1.x",
		PadID:      sd1PadID,
		singleFile: func(k keySet, _ *ldmConfig) bool { return k.has(ldmUNet) },
		diffusers:  func(folderFacts) bool { return true },
		textPrefix: ldmText,
		inferText:  inferText,
	}
	SD2 = &Family{
		Name:  "SD 2.x",
		PadID: 0, // "!"
		// The OpenCLIP text tower, or a sidecar yaml that describes SD 2.x.
		singleFile: func(k keySet, y *ldmConfig) bool {
			return k.has(ldmOpenCLIP) || y != nil && (y.headChannels > 0 || y.linear || y.vPrediction || y.openCLIP)
		},
		diffusers: func(d folderFacts) bool {
			return d.unet.UseLinearProjection || len(d.unet.AttentionHeadDim) > 1 || len(d.unet.NumAttentionHeads) > 1 ||
				d.text.HiddenAct == "gelu" || d.pad == "!"
		},
		textPrefix: ldmOpenCLIP,
		textKeys:   openCLIPKeys,
		inferText:  inferOpenCLIPText,
		adjustUNet: sd2UNet,
		scheduler:  sd2SchedulerConfig,
	}
	SDXL = &Family{
		Name:       "SDXL",
		Refused:    "SDXL checkpoints are not supported yet (only SD 1.x and 2.x)",
		singleFile: func(k keySet, _ *ldmConfig) bool { return k.has(ldmSDXL) },
		diffusers: func(d folderFacts) bool {
			_, two := d.index["text_encoder_2"]
			return two || strings.Contains(d.class, "XL")
		},
		textPrefix: ldmSDXL,
	}
)

// families is the detection order: most specific first.
var families = []*Family{SDXL, SD2, SD1}

// keySet answers whether any key of a single file starts with a prefix.
type keySet []string

func (k keySet) has(prefix string) bool {
	for _, n := range k {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

// singleFileFamily is the family a single file's keys (and yaml) belong
// to, or nil when they are no Stable Diffusion checkpoint's.
func singleFileFamily(k keySet, y *ldmConfig) *Family {
	for _, f := range families {
		if f.singleFile(k, y) {
			return f
		}
	}
	return nil
}

// folderFacts is what a diffusers folder says about its family.
type folderFacts struct {
	index map[string]json.RawMessage // model_index.json
	class string                     // its _class_name
	unet  unet.Config
	text  textenc.Config
	pad   string // the tokenizer's pad token
}

// diffusersFamily is the family a diffusers folder's configs describe.
func diffusersFamily(d folderFacts) *Family {
	for _, f := range families {
		if f.diffusers(d) {
			return f
		}
	}
	return SD1
}
