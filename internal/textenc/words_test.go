package textenc

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestWordsAgainstDiffusers: textual-inversion words tokenize as diffusers'
// added tokens do (ti_tokenizer.json of both LoRA fixtures: exact and
// case-sensitive, glued, repeated, n vectors as n ids), for SD 1.x's
// tokenizer and both of SDXL's. SDXL's second tokenizer follows OpenCLIP
// where diffusers turns '!' into the pad id (see TestSDXLTokenizer).
func TestWordsAgainstDiffusers(t *testing.T) {
	for _, file := range []string{"../../testdata/lora/ti_tokenizer.json", "../../testdata/sdxl-lora/ti_tokenizer.json"} {
		var ref struct {
			Token   string
			Vectors int
			Cases   []struct {
				Prompt  string
				Tokens  []string
				Tokens2 []string `json:"tokens_2"`
				IDs     []int
				IDs2    []int `json:"ids_2"`
			}
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatal(err)
		}
		if len(ref.Cases) < 6 {
			t.Fatalf("%s: %d cases", file, len(ref.Cases))
		}
		for _, pad := range []int{EOT, 0} {
			tok, err := NewCLIPTokenizer(pad).WithWords([]Word{{ref.Token, ref.Vectors}})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range ref.Cases {
				want, wantTokens := c.IDs, c.Tokens
				if pad == 0 {
					if c.IDs2 == nil {
						continue // SD 1.x has no second tokenizer
					}
					want, wantTokens = c.IDs2, c.Tokens2
					if strings.Contains(c.Prompt, "!") {
						// OpenCLIP's '!' (256) where diffusers pads; else the same.
						want, wantTokens = slices.Clone(c.IDs), c.Tokens
						end := slices.Index(want, EOT)
						for i := end + 1; i < len(want); i++ {
							want[i] = 0
						}
					}
				}
				enc := tok.Encode(c.Prompt)
				if !slices.Equal(enc.IDs, want) || !slices.Equal(enc.Tokens, wantTokens) {
					t.Errorf("pad %d, %q:\n got %v %q\nwant %v %q", pad, c.Prompt, enc.IDs[:12], enc.Tokens, want[:12], wantTokens)
				}
				if ids, _, _ := tok.EncodeWeighted(c.Prompt); !slices.Equal(ids, want) {
					t.Errorf("pad %d, %q: EncodeWeighted %v", pad, c.Prompt, ids[:12])
				}
			}
		}
	}
}

// TestWordBoundaries: a word that begins or ends with a letter or digit
// is not found inside another word; emphasis applies to it; BPE text
// around it is unchanged; Decode names its tokens.
func TestWordBoundaries(t *testing.T) {
	tok, err := NewCLIPTokenizer(EOT).WithWords([]Word{{"ink", 3}, {"inkwell", 1}})
	if err != nil {
		t.Fatal(err)
	}
	plain := NewCLIPTokenizer(EOT)
	ink := []int{FirstAddedID, FirstAddedID + 1, FirstAddedID + 2}
	well := FirstAddedID + 3
	for _, tc := range []struct {
		prompt string
		want   []int // the text ids; nil: as without words
	}{
		{"pinky and inks", nil},
		{"ink", ink},
		{"inkwell", []int{well}},
		{"an ink, pen", append(append([]int{550}, ink...), 267, 5356)},
	} {
		got := tok.Encode(tc.prompt)
		want := tc.want
		if want == nil {
			want = plain.Encode(tc.prompt).IDs[1 : 1+plain.Encode(tc.prompt).TextTokens]
		}
		if !slices.Equal(got.IDs[1:1+got.TextTokens], want) {
			t.Errorf("%q: %v, want %v", tc.prompt, got.IDs[1:1+got.TextTokens], want)
		}
	}
	ids, w, _ := tok.EncodeWeighted("a (ink:1.5) pen")
	if !slices.Equal(ids[2:5], ink) || w[2] != 1.5 || w[4] != 1.5 || w[5] != 1 {
		t.Errorf("emphasis: ids %v weights %v", ids[:7], w[:7])
	}
	if got := tok.Decode(ink); got != "ink ink_1 ink_2 " {
		t.Errorf("Decode = %q", got)
	}
	for _, bad := range [][]Word{{{"", 1}}, {{" x", 1}}, {{"x", 0}}, {{"x", 76}}, {{"x", 1}, {"x", 2}}} {
		if _, err := NewCLIPTokenizer(EOT).WithWords(bad); err == nil {
			t.Errorf("WithWords(%v) accepted", bad)
		}
	}
}
