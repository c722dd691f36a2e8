package main

import (
	"fmt"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/textenc"
)

// maxTextTokens is CLIP's window minus the start and end tokens.
const maxTextTokens = textenc.ContextLen - 2

// tokenRecord is one token of tokenize --json; ID is null for tokens past
// the limit (they never reach the model).
type tokenRecord struct {
	Token   string  `json:"token"`
	ID      *int    `json:"id"`
	Weight  float64 `json:"weight"` // its emphasis: (word:1.3), (word), [word]
	Dropped bool    `json:"dropped,omitempty"`
}

type tokenizeRecord struct {
	Prompt      string        `json:"prompt"`
	LongPrompts string        `json:"long_prompts"`
	Tokens      []tokenRecord `json:"tokens"`
	Count       int           `json:"count"`
	Limit       int           `json:"limit"`
	Truncated   bool          `json:"truncated"`
	Dropped     string        `json:"dropped,omitempty"`
	IDs         []int         `json:"ids,omitempty"`    // the 77 ids the text encoder sees (truncate)
	Chunks      [][]int       `json:"chunks,omitempty"` // the 77-id chunks it sees (chunk)
}

func (a *app) tokenizeCommand(o *genOptions) *cobra.Command {
	longPrompts := "truncate"
	var embFlags []string
	var embDir string
	cmd := &cobra.Command{
		Use:   "tokenize PROMPT",
		Short: "Show how CLIP splits a prompt into tokens, and what the 75-token limit drops",
		Long: `tokenize prints each BPE token of PROMPT with its id and emphasis weight, the
count against the text encoder's limit of 75 tokens (77 with the start and end
tokens), and the text that is dropped when the prompt is longer, exactly as
generation reads it: emphasis syntax such as (word:1.3) is parsed, not
counted, and with --long-prompts chunk nothing is dropped (the chunks are
listed instead). Embedding words (--embedding, --embeddings-dir) show as
their own tokens, one per vector. No model is needed.`,
		Example: `  imggen tokenize "sunset, oil painting"
  imggen tokenize --json "a castle on a hill"
  imggen tokenize --long-prompts chunk "a very long prompt ... BREAK more"`,
		Args: argsN(1, 1, "one prompt (quote it)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !utf8.ValidString(args[0]) {
				return usagef("prompt is not valid UTF-8")
			}
			if longPrompts != "truncate" && longPrompts != "chunk" {
				return usagef("--long-prompts must be truncate or chunk, got %q", longPrompts)
			}
			es, err := openEmbeddings(embFlags, embDir)
			if err != nil {
				return err
			}
			tok, err := textenc.NewCLIPTokenizer(textenc.EOT).WithWords(embeddingWords(es))
			if err != nil {
				return usageError{err}
			}
			return a.tokenize(o, tok, args[0], longPrompts)
		},
	}
	cmd.Flags().StringVar(&longPrompts, "long-prompts", longPrompts, "prompts over 75 tokens: truncate or chunk, as for generation")
	cmd.Flags().StringArrayVar(&embFlags, "embedding", nil, "embedding FILE or TOKEN=FILE, as for generation (repeatable)")
	cmd.Flags().StringVar(&embDir, "embeddings-dir", "", "every .safetensors embedding in DIR, as for generation")
	return cmd
}

func (a *app) tokenize(o *genOptions, tok *textenc.Tokenizer, prompt, longPrompts string) error {
	ids, weights, enc := tok.EncodeWeighted(prompt)
	chunk := longPrompts == "chunk"
	rec := tokenizeRecord{
		Prompt: prompt, LongPrompts: longPrompts, Count: enc.TextTokens, Limit: maxTextTokens,
		Truncated: enc.Truncated && !chunk, Tokens: make([]tokenRecord, len(enc.Tokens)),
	}
	if chunk {
		rec.Chunks, _ = tok.EncodeWeightedChunks(prompt)
	} else {
		rec.IDs, rec.Dropped = ids, enc.Dropped
	}
	// Where each token lands: after the start token of the one 77-id window,
	// or of its chunk (BREAK ends a chunk early, so chunks are walked).
	type slot struct{ chunk, pos int }
	var slots []slot
	if chunk {
		_, cw := tok.EncodeWeightedChunks(prompt)
		weights = nil
		for c, ids := range rec.Chunks {
			for k := 1; k < len(ids) && ids[k] != textenc.EOT; k++ {
				slots = append(slots, slot{c, k})
				weights = append(weights, cw[c][k])
			}
		}
	} else {
		for k := 1; k <= min(len(enc.Tokens), maxTextTokens); k++ {
			slots = append(slots, slot{0, k})
		}
		weights = weights[1:]
	}
	for i, t := range enc.Tokens {
		rec.Tokens[i].Token = t
		rec.Tokens[i].Weight = 1
		if i >= len(slots) {
			rec.Tokens[i].Dropped = true
			continue
		}
		id := ids[slots[i].pos]
		if chunk {
			id = rec.Chunks[slots[i].chunk][slots[i].pos]
		}
		rec.Tokens[i].ID, rec.Tokens[i].Weight = &id, weights[i]
	}
	if o.json {
		a.writeJSON(rec)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tid\ttoken")
	for i, t := range rec.Tokens {
		id := "-"
		if t.ID != nil {
			id = fmt.Sprint(*t.ID)
		}
		mark := ""
		if t.Weight != 1 {
			mark = fmt.Sprintf("\t(weight %g)", t.Weight)
		}
		if t.Dropped {
			mark = "\t(dropped)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s%s\n", i+1, id, t.Token, mark)
	}
	tw.Flush()
	if chunk {
		fmt.Fprintf(a.stdout, "%d tokens in %d chunks of %d\n", rec.Count, len(rec.Chunks), maxTextTokens)
		return nil
	}
	fmt.Fprintf(a.stdout, "%d of %d tokens\n", rec.Count, maxTextTokens)
	if rec.Truncated {
		fmt.Fprintf(a.stdout, "warning: %d tokens over the limit are dropped: %q (--long-prompts chunk keeps them)\n", rec.Count-maxTextTokens, rec.Dropped)
	}
	return nil
}
