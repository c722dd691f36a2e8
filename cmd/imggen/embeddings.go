package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/imggen/imggen/internal/embedding"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/textenc"
)

// embeddingRecord is an embedding a prompt used, in a --json line.
type embeddingRecord struct {
	Token   string `json:"token"`
	Path    string `json:"path"`
	Vectors int    `json:"vectors"`
	Hash    string `json:"hash"`
}

func embeddingRecords(req pipeline.Request, es []pipeline.Embedding) []embeddingRecord {
	var out []embeddingRecord
	for _, e := range pipeline.UsedEmbeddings(req, es) {
		out = append(out, embeddingRecord{e.Token, e.File.Path, e.File.Count(), e.File.Hash})
	}
	return out
}

// openEmbeddings opens --embedding FILE / TOKEN=FILE and every .safetensors
// in --embeddings-dir (token: the base name), before the model loads.
func openEmbeddings(flags []string, dir string) ([]pipeline.Embedding, error) {
	type spec struct{ token, path string }
	var specs []spec
	for _, v := range flags {
		token, path, ok := strings.Cut(v, "=")
		if _, err := os.Stat(v); err == nil || !ok || token == "" {
			token, path = "", v // a file whose name holds '='
		}
		specs = append(specs, spec{token, path})
	}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, usagef("--embeddings-dir: %v", err)
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".safetensors") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			specs = append(specs, spec{"", filepath.Join(dir, n)})
		}
	}
	var out []pipeline.Embedding
	seen := map[string]string{}
	for _, s := range specs {
		f, err := embedding.Open(s.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usagef("--embedding: %v", err)
		} else if err != nil {
			return nil, fmt.Errorf("--embedding: %w", err)
		}
		token := s.token
		if token == "" {
			token = f.Name
		}
		if prev, dup := seen[token]; dup {
			return nil, usagef("the embedding word %q is given twice (%s and %s); name one with --embedding TOKEN=FILE", token, prev, s.path)
		}
		seen[token] = s.path
		out = append(out, pipeline.Embedding{Token: token, File: f})
	}
	return out, nil
}

// embeddingWords is what a tokenizer needs to know of embeddings.
func embeddingWords(es []pipeline.Embedding) []textenc.Word {
	var ws []textenc.Word
	for _, e := range es {
		ws = append(ws, textenc.Word{Text: e.Token, Vectors: e.File.Count()})
	}
	return ws
}
