package pipeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/imggen/imggen/internal/lora"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/nn"
	"github.com/imggen/imggen/internal/weights"
)

// LoRA is a LoRA file applied at a strength.
type LoRA struct {
	File  *lora.File
	Scale float64
}

// loras applies a request's LoRAs to the networks as low-rank side paths
// (nn.LowRank): the weights are never copied or changed, so switching
// between images costs the LoRAs' own size. Runs with the same set share
// the networks; a run with another set waits until they are done.
type loras struct {
	mu      sync.RWMutex
	active  string                    // key of the applied set ("" none)
	touched []nn.Adaptable            // layers that carry updates now
	layers  map[string]weights.Layers // per component, as the networks recorded them
	targets func() ([]lora.Target, error)
	merge   bool // Options.MergeLoRAs
}

// key identifies a set of LoRAs with their strengths.
func loraKey(ls []LoRA) string {
	var b strings.Builder
	for _, l := range ls {
		fmt.Fprintf(&b, "%p:%v;", l.File, l.Scale)
	}
	return b.String()
}

// with runs f with ls applied.
func (s *loras) with(ls []LoRA, f func() error) error {
	key := loraKey(ls)
	for {
		s.mu.RLock()
		if s.active == key {
			defer s.mu.RUnlock()
			return f()
		}
		s.mu.RUnlock()
		s.mu.Lock()
		err := s.apply(ls, key)
		s.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// apply replaces the applied set (under the write lock).
func (s *loras) apply(ls []LoRA, key string) error {
	if s.active == key {
		return nil
	}
	updates, order, err := s.bind(ls)
	if err != nil {
		return err
	}
	set := nn.Adaptable.SetLowRank
	if s.merge {
		set = nn.Adaptable.SetMerged
	}
	for _, layer := range s.touched {
		set(layer, nil)
	}
	for _, layer := range order {
		set(layer, updates[layer])
	}
	s.touched, s.active = order, key
	return nil
}

// bind finds the layer of every module of ls and builds its update (all
// or nothing), in the order the layers are first touched.
func (s *loras) bind(ls []LoRA) (map[nn.Adaptable][]nn.LowRank, []nn.Adaptable, error) {
	updates := map[nn.Adaptable][]nn.LowRank{}
	var order []nn.Adaptable
	if len(ls) == 0 {
		return updates, nil, nil
	}
	targets, err := s.targets()
	if err != nil {
		return nil, nil, err
	}
	for _, l := range ls {
		binds, err := l.File.Resolve(targets)
		if err != nil {
			return nil, nil, err
		}
		for _, b := range binds {
			layer, ok := s.layers[b.Component][b.Layer].(nn.Adaptable)
			if !ok {
				return nil, nil, fmt.Errorf("lora %s: %s: layer %s takes no LoRA", l.File.Name, b.Module.Key, b.Layer)
			}
			m := b.Module
			u, err := layer.NewLowRank(m.Down, m.DownShape, m.Up, m.UpShape, float32(m.Scale()*l.Scale))
			if err != nil {
				return nil, nil, fmt.Errorf("lora %s: %s: %w", l.File.Name, m.Key, err)
			}
			if _, seen := updates[layer]; !seen {
				order = append(order, layer)
			}
			updates[layer] = append(updates[layer], u)
		}
	}
	return updates, order, nil
}

// CheckLoRA reports whether every module of f fits a layer of the model
// (names and shapes), without applying it; it returns how many layers it
// updates.
func (p *Pipeline) CheckLoRA(f *lora.File) (int, error) {
	_, order, err := p.loras.bind([]LoRA{{f, 1}})
	return len(order), err
}

// loraTargets names the layers of m's networks as LoRA files do.
func loraTargets(m *model.Model, layers map[string]weights.Layers) ([]lora.Target, error) {
	xl := len(m.TextEncoders) > 1
	lay := model.NewLDMLayout(m.UNet, m.VAE)
	unetT := lora.Target{Component: "unet", Prefixes: []string{"unet"}, Names: map[string]string{}}
	for name, layer := range layers["unet"] {
		if _, ok := layer.(nn.Adaptable); !ok {
			continue
		}
		unetT.Names[name], unetT.Names[lora.Flat(name)] = name, name
		// kohya names SDXL's U-Net by its original (SGM) blocks.
		if ldm, _, err := model.LDMName(model.CompUNet, name+".weight", nil, lay); err == nil {
			sgm := strings.TrimSuffix(strings.TrimPrefix(ldm, "model.diffusion_model."), ".weight")
			unetT.Names[lora.Flat(sgm)] = name
		}
	}
	targets := []lora.Target{unetT}
	for i, te := range []string{"text_encoder", "text_encoder_2"} {
		if _, ok := layers[te]; !ok {
			continue
		}
		t := lora.Target{Component: te, Prefixes: []string{te}, Names: map[string]string{}}
		switch {
		case !xl:
			t.Prefixes = append(t.Prefixes, "te")
		case i == 0:
			t.Prefixes = append(t.Prefixes, "te1")
		default:
			t.Prefixes = append(t.Prefixes, "te2")
		}
		for name, layer := range layers[te] {
			if _, ok := layer.(nn.Adaptable); ok {
				t.Names[name], t.Names[lora.Flat(name)] = name, name
			}
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// LoRATag is a <lora:NAME:SCALE> tag of a prompt.
type LoRATag struct {
	Name  string
	Scale float64
}

var loraTagRE = regexp.MustCompile(`<lora:([^<>]*)>`)

// LoRATags finds AUTOMATIC1111's <lora:NAME> and <lora:NAME:SCALE> tags in
// a prompt and returns the prompt without them (what is encoded; the tags
// stay in the prompt the PNG records).
func LoRATags(prompt string) (string, []LoRATag, error) {
	var tags []LoRATag
	var bad error
	clean := loraTagRE.ReplaceAllStringFunc(prompt, func(tag string) string {
		inner := loraTagRE.FindStringSubmatch(tag)[1]
		parts := strings.Split(inner, ":")
		t := LoRATag{Name: strings.TrimSpace(parts[0]), Scale: 1}
		switch {
		case t.Name == "":
			bad = fmt.Errorf("%s: no LoRA name", tag)
		case len(parts) == 2:
			v, err := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
			if err != nil || v != v || v < -10 || v > 10 {
				bad = fmt.Errorf("%s: the strength must be a number from -10 to 10", tag)
			}
			t.Scale = v
		case len(parts) > 2:
			bad = fmt.Errorf("%s: separate text-encoder and U-Net strengths are not supported; give one", tag)
		}
		tags = append(tags, t)
		return ""
	})
	return clean, tags, bad
}

// loraTagsNotInPrompt is " <lora:NAME:SCALE>" for each LoRA of r that no
// tag of the prompt names, so that the recorded prompt says what ran.
func (r Request) loraTagsNotInPrompt() string {
	_, tags, _ := LoRATags(r.Prompt)
	named := map[string]bool{}
	for _, t := range tags {
		named[t.Name] = true
	}
	var b strings.Builder
	for _, l := range r.LoRAs {
		if !named[l.File.Name] {
			fmt.Fprintf(&b, " <lora:%s:%s>", l.File.Name, formatFloat(l.Scale))
		}
	}
	return b.String()
}

// loraHashes is "name: hash, ..." of r's LoRAs, each file once.
func (r Request) loraHashes() string {
	var parts []string
	seen := map[string]bool{}
	for _, l := range r.LoRAs {
		if e := l.File.Name + ": " + l.File.Hash; !seen[e] {
			seen[e] = true
			parts = append(parts, e)
		}
	}
	return strings.Join(parts, ", ")
}
