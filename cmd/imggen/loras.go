package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/imggen/imggen/internal/lora"
	"github.com/imggen/imggen/internal/pipeline"
)

const envLoRADir = "IMGGEN_LORA_DIR"

// loraSet opens each LoRA file of a run once, however many images use it,
// so images with the same LoRAs share them (and the networks keep them
// applied between those images).
type loraSet struct {
	files map[string]*lora.File // by cleaned path
}

func (s *loraSet) open(path string) (*lora.File, error) {
	path = filepath.Clean(path)
	if f, ok := s.files[path]; ok {
		return f, nil
	}
	f, err := lora.Open(path)
	if err != nil {
		return nil, err
	}
	s.files[path] = f
	return f, nil
}

// loraRecord is a LoRA in a --json line.
type loraRecord struct {
	Name  string  `json:"name"`
	Path  string  `json:"path"`
	Scale float64 `json:"scale"`
	Hash  string  `json:"hash"`
}

func loraRecords(ls []pipeline.LoRA) []loraRecord {
	var out []loraRecord
	for _, l := range ls {
		out = append(out, loraRecord{l.File.Name, l.File.Path, l.Scale, l.File.Hash})
	}
	return out
}

// parseLoRAFlag splits --lora FILE[:SCALE]; a colon that is not followed
// by a number belongs to the path (C:\loras\x.safetensors).
func parseLoRAFlag(v string) (string, float64, error) {
	if i := strings.LastIndex(v, ":"); i >= 0 {
		if s, err := strconv.ParseFloat(v[i+1:], 64); err == nil {
			if !(s >= -10 && s <= 10) {
				return "", 0, usagef("--lora %s: the strength must be from -10 to 10", v)
			}
			return v[:i], s, nil
		}
	}
	return v, 1, nil
}

// resolveLoRAs opens the --lora files and, for each prompt, the LoRAs its
// <lora:NAME:SCALE> tags name: a --lora file of that name, else
// NAME.safetensors in --lora-dir. A tag sets the strength of a --lora file
// it names. A prompt whose LoRA cannot be found or read fails on its own
// (in a prompt file) or stops the run before the model loads (a prompt
// argument).
func (a *app) resolveLoRAs(o *genOptions, prompts []job) error {
	o.lorasOf = &loraSet{files: map[string]*lora.File{}}
	var flagLoRAs []pipeline.LoRA
	for _, v := range o.loras {
		path, scale, err := parseLoRAFlag(v)
		if err != nil {
			return err
		}
		f, err := o.lorasOf.open(path)
		if errors.Is(err, fs.ErrNotExist) {
			return usagef("--lora: %v", err)
		} else if err != nil {
			return fmt.Errorf("--lora: %w", err)
		}
		flagLoRAs = append(flagLoRAs, pipeline.LoRA{File: f, Scale: scale})
	}
	dir := o.loraDir
	if dir == "" {
		dir = a.getenv(envLoRADir)
	}
	for i := range prompts {
		j := &prompts[i]
		if j.err != nil {
			continue
		}
		ls, err := o.lorasOf.forPrompt(j.prompt, flagLoRAs, dir)
		if err != nil && j.line == 0 {
			return usageError{err}
		}
		j.loras, j.err = ls, err
	}
	return nil
}

// forPrompt is the LoRAs of one prompt: its tags', then the --lora files
// no tag named.
func (s *loraSet) forPrompt(prompt string, flagLoRAs []pipeline.LoRA, dir string) ([]pipeline.LoRA, error) {
	_, tags, err := pipeline.LoRATags(prompt)
	if err != nil {
		return nil, err
	}
	var out []pipeline.LoRA
	named := map[*lora.File]bool{}
	for _, t := range tags {
		var f *lora.File
		for _, l := range flagLoRAs {
			if l.File.Name == t.Name {
				f = l.File
			}
		}
		if f == nil {
			if dir == "" {
				return nil, fmt.Errorf("<lora:%s>: give the folder of LoRAs with --lora-dir DIR or $%s, or the file with --lora", t.Name, envLoRADir)
			}
			rel := filepath.FromSlash(t.Name) + ".safetensors"
			if !filepath.IsLocal(rel) {
				return nil, fmt.Errorf("<lora:%s>: a LoRA name must stay inside --lora-dir", t.Name)
			}
			if f, err = s.open(filepath.Join(dir, rel)); err != nil {
				return nil, fmt.Errorf("<lora:%s>: %w", t.Name, err)
			}
		}
		named[f] = true
		out = append(out, pipeline.LoRA{File: f, Scale: t.Scale})
	}
	for _, l := range flagLoRAs {
		if !named[l.File] {
			out = append(out, l)
		}
	}
	return out, nil
}

// checkLoRAs fails, before any image is made, each job with a LoRA that
// does not fit the loaded model (another family's, say), each file checked
// once.
func checkLoRAs(m *loaded, jobs []job) {
	c, ok := m.generator.(interface {
		CheckLoRA(*lora.File) (int, error)
	})
	if !ok {
		return
	}
	errs := map[*lora.File]error{}
	for i := range jobs {
		for _, l := range jobs[i].loras {
			err, seen := errs[l.File]
			if !seen {
				_, err = c.CheckLoRA(l.File)
				errs[l.File] = err
			}
			if err != nil && jobs[i].err == nil {
				jobs[i].err = err
			}
		}
	}
}
