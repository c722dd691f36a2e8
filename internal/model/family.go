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
	// towers are a single file's text encoders, in the order the U-Net
	// joins their outputs.
	towers []tower
	// penultimate: the U-Net reads each encoder's hidden states before
	// its last layer, without the final LayerNorm, and the last encoder's
	// pooled, projected embedding too (SDXL).
	penultimate bool
	// forceZeros: with guidance and no negative prompt given, the
	// unconditional context and pooled embedding are zeros (diffusers'
	// force_zeros_for_empty_prompt, which a folder's model_index.json may
	// turn off).
	forceZeros bool
	// vaeScaling is the latent scaling of the family's VAE, which a
	// single file does not store.
	vaeScaling float64
	vaeSample  int // the VAE's native image size (its config's sample_size)
	// adjustUNet, when set, completes the shape-inferred U-Net config of a
	// single file with what the family fixes (SD 2.x's head size).
	adjustUNet func(*unet.Config, [numComps]*Component, *ldmConfig) error
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
		towers:     []tower{{prefix: ldmText, pad: sd1PadID, infer: inferCLIPText}},
		vaeScaling: sd1Scaling,
		vaeSample:  sd1VAESample,
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
		towers:     []tower{{prefix: ldmOpenCLIP, pad: 0, keys: openCLIPKeys, infer: inferOpenCLIPText}},
		vaeScaling: sd1Scaling,
		vaeSample:  sd1VAESample,
		adjustUNet: sd2UNet,
		scheduler:  sd2SchedulerConfig,
	}
	SDXL = &Family{
		Name:       "SDXL",
		PadID:      sd1PadID, // the second tokenizer's is "!" (0)
		singleFile: func(k keySet, _ *ldmConfig) bool { return k.has(ldmSDXL) },
		diffusers: func(d folderFacts) bool {
			_, two := d.index["text_encoder_2"]
			return two || strings.Contains(d.class, "XL")
		},
		towers: []tower{
			{prefix: sdxlCLIP, pad: sd1PadID, infer: inferCLIPText},
			{prefix: sdxlOpenCLIP, pad: 0, keys: sdxlOpenCLIPKeys, infer: inferSDXLOpenCLIPText},
		},
		penultimate: true,
		forceZeros:  true,
		vaeScaling:  sdxlScaling,
		vaeSample:   8 * sdxlSampleSize,
		adjustUNet:  sdxlUNet,
		scheduler:   sdxlSchedulerConfig,
	}
)

// tower is one text encoder of a single file.
type tower struct {
	prefix string // its keys' prefix
	pad    int    // its tokenizer's pad id
	// keys, when set, maps its keys (names lists every key of the file);
	// otherwise they map as a transformers CLIPTextModel's under prefix.
	keys func(names []string) func(key string) ([]string, keyKind)
	// infer derives its config from the mapped shapes.
	infer func(*Component) (textenc.Config, error)
}

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
