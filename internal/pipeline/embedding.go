package pipeline

import (
	"fmt"
	"strings"

	"github.com/imggen/imggen/internal/embedding"
	"github.com/imggen/imggen/internal/textenc"
)

// Embedding is a textual-inversion embedding and the word that calls it in
// prompts (by default the file's base name, AUTOMATIC1111's convention).
type Embedding struct {
	Token string
	File  *embedding.File
}

// setEmbeddings teaches every text encoder the embeddings' words: each
// tokenizer splits them out of prompts into ids after the vocabulary, and
// each model embeds those ids with the file's vectors for that encoder
// (clip_l and clip_g for SDXL's two).
func (p *Pipeline) setEmbeddings(es []Embedding) error {
	widths := make([]int, len(p.texts))
	for i, te := range p.texts {
		widths[i] = te.model.Config().HiddenSize
	}
	var words []textenc.Word
	rows := make([][]float32, len(p.texts))
	for _, e := range es {
		vs, err := e.File.For(widths)
		if err != nil {
			return err
		}
		words = append(words, textenc.Word{Text: e.Token, Vectors: e.File.Count()})
		for i, v := range vs {
			rows[i] = append(rows[i], v.Data...)
		}
	}
	for i := range p.texts {
		tok, err := p.texts[i].tokenizer.WithWords(words)
		if err != nil {
			return err
		}
		if err := p.texts[i].model.SetAddedTokens(textenc.FirstAddedID, rows[i]); err != nil {
			return err
		}
		p.texts[i].tokenizer = tok
	}
	return nil
}

// UsedEmbeddings is the embeddings whose word appears in the prompt or the
// negative prompt of r.
func UsedEmbeddings(r Request, es []Embedding) []Embedding {
	var out []Embedding
	for _, e := range es {
		if strings.Contains(r.Prompt, e.Token) || strings.Contains(r.NegativePrompt, e.Token) {
			out = append(out, e)
		}
	}
	return out
}

// tiHashes is "token: hash, ..." of the embeddings r uses.
func (r Request) tiHashes(es []Embedding) string {
	var parts []string
	for _, e := range UsedEmbeddings(r, es) {
		parts = append(parts, fmt.Sprintf("%s: %s", e.Token, e.File.Hash))
	}
	return strings.Join(parts, ", ")
}
