package textenc

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Word is a word with embedding rows of its own: a textual-inversion
// embedding's trigger and how many vectors (token positions) it takes.
type Word struct {
	Text    string
	Vectors int
}

// addedWord is a Word with its ids: an n-vector word "w" is the tokens w,
// w_1, ..., w_{n-1}, as diffusers names them.
type addedWord struct {
	text string
	ids  []int32
}

// FirstAddedID is the id of the first added token: the next after the
// vocabulary, as transformers numbers added tokens.
const FirstAddedID = numVocab

// WithWords returns a tokenizer that also knows words, with ids from
// FirstAddedID on, in order (each word's vectors consecutive). A word
// matches exactly and case-sensitively wherever it stands in the raw text,
// as diffusers' added tokens do ("<tok><tok>" is two), except that a word
// that begins (ends) with a letter or digit does not match right after
// (before) another one, so "ink" is not found in "pinky".
func (t *Tokenizer) WithWords(words []Word) (*Tokenizer, error) {
	out := &Tokenizer{padID: t.padID, cache: t.cache}
	next := int32(FirstAddedID)
	seen := map[string]bool{}
	for _, w := range words {
		switch {
		case w.Text == "" || strings.TrimSpace(w.Text) != w.Text || !utf8.ValidString(w.Text):
			return nil, fmt.Errorf("embedding token %q: empty, not UTF-8 or with surrounding space", w.Text)
		case seen[w.Text]:
			return nil, fmt.Errorf("embedding token %q given twice", w.Text)
		case w.Vectors < 1 || w.Vectors > maxTextTokens:
			return nil, fmt.Errorf("embedding %q: %d vectors, want 1 to %d", w.Text, w.Vectors, maxTextTokens)
		}
		seen[w.Text] = true
		a := addedWord{text: w.Text}
		for range w.Vectors {
			a.ids = append(a.ids, next)
			next++
		}
		out.words = append(out.words, a)
	}
	// Longest first, so a word that begins another does not cut it short.
	sort.SliceStable(out.words, func(i, j int) bool { return len(out.words[i].text) > len(out.words[j].text) })
	return out, nil
}

// splitWords calls emit for each stretch of s between added words (w nil)
// and for each added word found.
func (t *Tokenizer) splitWords(s string, emit func(text string, w *addedWord)) {
	if len(t.words) == 0 {
		emit(s, nil)
		return
	}
	start := 0
	for i := 0; i < len(s); {
		w := t.wordAt(s, i)
		if w == nil {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		if start < i {
			emit(s[start:i], nil)
		}
		emit(w.text, w)
		i += len(w.text)
		start = i
	}
	if start < len(s) {
		emit(s[start:], nil)
	}
}

// wordAt is the added word at s[i:], if any.
func (t *Tokenizer) wordAt(s string, i int) *addedWord {
	for k := range t.words {
		w := &t.words[k]
		if !strings.HasPrefix(s[i:], w.text) {
			continue
		}
		first, _ := utf8.DecodeRuneInString(w.text)
		last, _ := utf8.DecodeLastRuneInString(w.text)
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+len(w.text):])
		if (wordRune(first) && i > 0 && wordRune(before)) || (wordRune(last) && i+len(w.text) < len(s) && wordRune(after)) {
			continue
		}
		return w
	}
	return nil
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// wordText is the token text of an added id: "w" or "w_k".
func (t *Tokenizer) wordText(id int) (string, bool) {
	for _, w := range t.words {
		for k, wid := range w.ids {
			if int(wid) == id {
				if k == 0 {
					return w.text, true
				}
				return fmt.Sprintf("%s_%d", w.text, k), true
			}
		}
	}
	return "", false
}

// token is the token string of id: the vocabulary's, or an added word's.
func (t *Tokenizer) token(tb *tables, id int32) string {
	if int(id) < len(tb.vocab) {
		return tb.vocab[id]
	}
	w, _ := t.wordText(int(id))
	return w
}
