package main

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/imggen/imggen/internal/embedding"
	"github.com/imggen/imggen/internal/lora"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/safetensors"
)

// addonReport is imggen inspect's description of a LoRA or an embedding.
type addonReport struct {
	Path      string             `json:"path"`
	Kind      string             `json:"kind"` // "lora" or "embedding"
	LoRA      *lora.Summary      `json:"lora,omitempty"`
	Embedding *embedding.Summary `json:"embedding,omitempty"`
	Model     string             `json:"model,omitempty"` // -m, when given
	Fits      *bool              `json:"fits,omitempty"`
	Layers    int                `json:"layers,omitempty"` // layers a fitting LoRA updates
	Problem   string             `json:"problem,omitempty"`
}

// addonKind says whether path is a LoRA or an embedding by its tensor
// names ("" for anything else, such as a model).
func addonKind(path string) string {
	if !strings.EqualFold(filepath.Ext(path), ".safetensors") {
		return ""
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	switch names := f.Names(); {
	case lora.LooksLikeLoRA(names):
		return "lora"
	case embedding.LooksLikeEmbedding(names):
		return "embedding"
	}
	return ""
}

// inspectAddon reports on a LoRA or embedding and, with modelPath, whether
// it fits that model.
func (a *app) inspectAddon(o *genOptions, path, kind, modelPath string) error {
	rep := addonReport{Path: path, Kind: kind, Model: modelPath}
	var lf *lora.File
	var ef *embedding.File
	var err error
	if kind == "lora" {
		if lf, err = lora.Open(path); err != nil {
			return err
		}
		s := lf.Summarize()
		rep.LoRA = &s
	} else {
		if ef, err = embedding.Open(path); err != nil {
			return err
		}
		s := ef.Summarize()
		rep.Embedding = &s
	}
	if modelPath != "" {
		po := pipeline.Options{}
		if ef != nil {
			po.Embeddings = []pipeline.Embedding{{Token: ef.Name, File: ef}}
		}
		m, err := a.load(modelPath, model.Options{}, po)
		fits := err == nil
		if err == nil {
			defer m.close()
			if c, ok := m.generator.(interface {
				CheckLoRA(*lora.File) (int, error)
			}); ok && lf != nil {
				rep.Layers, err = c.CheckLoRA(lf)
				fits = err == nil
			}
		}
		if err != nil {
			rep.Problem = err.Error()
		}
		rep.Fits = &fits
	}
	if o.json {
		a.writeJSON(rep)
	} else {
		fmt.Fprint(a.stdout, rep.String())
	}
	if rep.Fits != nil && !*rep.Fits {
		return fmt.Errorf("%s does not fit %s", path, modelPath)
	}
	return nil
}

func (r addonReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", r.Path)
	if s := r.LoRA; s != nil {
		fmt.Fprintf(&b, "  kind:        LoRA (%s format)\n", s.Format)
		fmt.Fprintf(&b, "  trained for: %s", s.Family)
		if s.BaseModel != "" {
			fmt.Fprintf(&b, " (metadata: %s)", s.BaseModel)
		}
		fmt.Fprintf(&b, "\n  modules:     %d: %s\n", s.Modules, counts(s.Components))
		fmt.Fprintf(&b, "  layer kinds: %s\n", counts(s.Kinds))
		fmt.Fprintf(&b, "  rank:        %s\n  alpha:       %s\n", joinInts(s.Ranks), joinFloats(s.Alphas))
		fmt.Fprintf(&b, "  hash:        %s (Lora hashes)\n", s.Hash)
	}
	if s := r.Embedding; s != nil {
		fmt.Fprintf(&b, "  kind:        textual-inversion embedding, %s\n", s.Format)
		fmt.Fprintf(&b, "  trained for: %s\n  vectors:     %d (token positions)\n  width:       %s\n", s.Family, s.Vectors, joinInts(s.Widths))
		fmt.Fprintf(&b, "  hash:        %s (TI hashes)\n", s.Hash)
	}
	if r.Fits != nil {
		switch {
		case *r.Fits && r.Layers > 0:
			fmt.Fprintf(&b, "  fits %s: yes (%d layers)\n", r.Model, r.Layers)
		case *r.Fits:
			fmt.Fprintf(&b, "  fits %s: yes\n", r.Model)
		default:
			fmt.Fprintf(&b, "  fits %s: no: %s\n", r.Model, r.Problem)
		}
	}
	return b.String()
}

func counts(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func joinInts(v []int) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ", ")
}

func joinFloats(v []float64) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprint(x))
	}
	return strings.Join(parts, ", ")
}
