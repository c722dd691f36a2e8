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
	Token   string `json:"token"`
	ID      *int   `json:"id"`
	Dropped bool   `json:"dropped,omitempty"`
}

type tokenizeRecord struct {
	Prompt    string        `json:"prompt"`
	Tokens    []tokenRecord `json:"tokens"`
	Count     int           `json:"count"`
	Limit     int           `json:"limit"`
	Truncated bool          `json:"truncated"`
	Dropped   string        `json:"dropped,omitempty"`
	IDs       []int         `json:"ids"` // the 77 ids the text encoder sees
}

func (a *app) tokenizeCommand(o *genOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "tokenize PROMPT",
		Short: "Show how CLIP splits a prompt into tokens, and what the 75-token limit drops",
		Long: `tokenize prints each BPE token of PROMPT with its id, the count against the
text encoder's limit of 75 tokens (77 with the start and end tokens), and the
text that is dropped when the prompt is longer. No model is needed.`,
		Example: `  imggen tokenize "sunset, oil painting"
  imggen tokenize --json "a castle on a hill"`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !utf8.ValidString(args[0]) {
				return usagef("prompt is not valid UTF-8")
			}
			return a.tokenize(o, args[0])
		},
	}
}

func (a *app) tokenize(o *genOptions, prompt string) error {
	enc := textenc.NewCLIPTokenizer(textenc.EOT).Encode(prompt)
	rec := tokenizeRecord{
		Prompt: prompt, Count: enc.TextTokens, Limit: maxTextTokens,
		Truncated: enc.Truncated, Dropped: enc.Dropped, IDs: enc.IDs,
		Tokens: make([]tokenRecord, len(enc.Tokens)),
	}
	for i, t := range enc.Tokens {
		rec.Tokens[i].Token = t
		if i < maxTextTokens {
			id := enc.IDs[1+i] // IDs[0] is the start token
			rec.Tokens[i].ID = &id
		} else {
			rec.Tokens[i].Dropped = true
		}
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
		if t.Dropped {
			mark = "\t(dropped)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s%s\n", i+1, id, t.Token, mark)
	}
	tw.Flush()
	fmt.Fprintf(a.stdout, "%d of %d tokens\n", rec.Count, maxTextTokens)
	if rec.Truncated {
		fmt.Fprintf(a.stdout, "warning: %d tokens over the limit are dropped: %q\n", rec.Count-maxTextTokens, rec.Dropped)
	}
	return nil
}
