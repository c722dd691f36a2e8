package textenc

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// WeightedText is one run of a prompt with its attention weight, as
// ParseWeights returns it. A Break entry is the BREAK keyword: it carries no
// text to encode (Text is "BREAK" for display only) and Weight 1.
type WeightedText struct {
	Text   string
	Weight float64
	Break  bool
}

// The bracket multipliers of AUTOMATIC1111's prompt_parser. The square one is
// 1/1.1 computed once, as there, so products round the same way.
const (
	roundMultiplier  = 1.1
	squareMultiplier = 1 / 1.1
	breakKeyword     = "BREAK"
)

// ParseWeights splits a prompt into text runs with their weights, following
// AUTOMATIC1111's parse_prompt_attention:
//
//	(text)      weight x1.1, nestable: ((text)) is x1.21
//	[text]      weight /1.1
//	(text:1.5)  weight x1.5 (the number is [+-]?[.0-9]+)
//	\( \) \[ \] \\  the literal character; a lone \ is dropped
//	BREAK       a Break entry (whitespace around it is dropped)
//
// Brackets still open at the end apply to the rest of the prompt; a closing
// bracket with nothing open is literal text. Adjacent runs with equal weight
// are merged, and an empty result is one empty run of weight 1. It never
// fails: every string is a valid prompt.
//
// Deliberate differences from A1111: a BREAK inside brackets is still a
// break (A1111 multiplies its -1 marker and so turns it into the text
// "BREAK" with a negative weight); "(x:.)" and other numbers Python's float
// would reject (A1111 raises ValueError) leave the ':' literal; only ASCII
// digits count as a number.
func ParseWeights(prompt string) []WeightedText {
	p := weightParser{}
	s := prompt
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '\\':
			// Escapes are appended with weight 1 and then multiplied by the
			// enclosing brackets like any text.
			if i+1 < len(s) && strings.IndexByte(`()[]\`, s[i+1]) >= 0 {
				p.add(s[i+1 : i+2])
				i += 2
			} else {
				p.add("") // A1111 drops a lone backslash but still emits a run
				i++
			}
		case '(':
			p.round = append(p.round, len(p.res))
			i++
		case '[':
			p.square = append(p.square, len(p.res))
			i++
		case ')':
			if n := len(p.round); n > 0 {
				p.multiply(p.round[n-1], roundMultiplier)
				p.round = p.round[:n-1]
			} else {
				p.text(")")
			}
			i++
		case ']':
			if n := len(p.square); n > 0 {
				p.multiply(p.square[n-1], squareMultiplier)
				p.square = p.square[:n-1]
			} else {
				p.text("]")
			}
			i++
		case ':':
			end, w, ok := weightSuffix(s[i:])
			switch {
			case end == 0:
				p.text(":")
				i++
			case len(p.round) == 0:
				// ":1.5)" with no '(' open is one literal token in A1111.
				p.text(s[i : i+end])
				i += end
			case ok:
				n := len(p.round)
				p.multiply(p.round[n-1], w)
				p.round = p.round[:n-1]
				i += end
			default:
				// A number Python's float rejects: A1111 would raise; keep
				// the ':' as text and go on.
				p.text(":")
				i++
			}
		default:
			j := i + 1
			for j < len(s) && strings.IndexByte(`\()[]:`, s[j]) < 0 {
				j++
			}
			p.text(s[i:j])
			i = j
		}
	}
	// Unclosed brackets: all round ones first, then the square ones, each
	// from the bottom of its stack, as A1111 does.
	for _, pos := range p.round {
		p.multiply(pos, roundMultiplier)
	}
	for _, pos := range p.square {
		p.multiply(pos, squareMultiplier)
	}
	if len(p.res) == 0 {
		return []WeightedText{{Text: "", Weight: 1}}
	}
	return mergeRuns(p.res)
}

// weightParser is ParseWeights' state: the runs so far and the run index at
// which each open bracket started. The stacks are slices, so any nesting
// depth works without recursion.
type weightParser struct {
	res           []WeightedText
	round, square []int
}

func (p *weightParser) add(text string) {
	p.res = append(p.res, WeightedText{Text: text, Weight: 1})
}

// text appends plain text, split at BREAK keywords.
func (p *weightParser) text(s string) {
	for k, part := range splitBreak(s) {
		if k > 0 {
			p.res = append(p.res, WeightedText{Text: breakKeyword, Weight: 1, Break: true})
		}
		p.add(part)
	}
}

// multiply scales every run from start on, one multiplication per bracket in
// closing order, so the float64 results equal A1111's bit for bit.
func (p *weightParser) multiply(start int, m float64) {
	for k := start; k < len(p.res); k++ {
		if !p.res[k].Break {
			p.res[k].Weight *= m
		}
	}
}

// weightSuffix matches `:([+-]?[.0-9]+)\)` at the start of s and returns the
// match length (0 if none) and the number, ok false if it is not a valid
// float ("." or "1.2.3"). Python's float gives ±inf for huge literals; so
// does this.
func weightSuffix(s string) (end int, w float64, ok bool) {
	j := 1
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	k := j
	for k < len(s) && (s[k] == '.' || '0' <= s[k] && s[k] <= '9') {
		k++
	}
	if k == j || k >= len(s) || s[k] != ')' {
		return 0, 0, false
	}
	w, err := strconv.ParseFloat(s[1:k], 64)
	if err != nil {
		if ne, isNum := err.(*strconv.NumError); !isNum || ne.Err != strconv.ErrRange {
			return k + 1, 0, false
		}
	}
	return k + 1, w, true
}

// splitBreak is re.split(r"\s*\bBREAK\b\s*", s) with Python's Unicode \s
// and \w: BREAK counts only as a whole word, and the whitespace around it
// goes with it.
func splitBreak(s string) []string {
	if !strings.Contains(s, breakKeyword) {
		return []string{s}
	}
	var parts []string
	last := 0 // end of the previous match
	for from := 0; ; {
		b := strings.Index(s[from:], breakKeyword)
		if b < 0 {
			break
		}
		b += from
		e := b + len(breakKeyword)
		before, _ := utf8.DecodeLastRuneInString(s[:b])
		after, _ := utf8.DecodeRuneInString(s[e:])
		if b > 0 && isPyWord(before) || e < len(s) && isPyWord(after) {
			from = b + 1
			continue
		}
		start := b
		for start > last {
			r, n := utf8.DecodeLastRuneInString(s[last:start])
			if !pyIsSpace(r) {
				break
			}
			start -= n
		}
		for e < len(s) {
			r, n := utf8.DecodeRuneInString(s[e:])
			if !pyIsSpace(r) {
				break
			}
			e += n
		}
		parts = append(parts, s[last:start])
		last, from = e, e
	}
	return append(parts, s[last:])
}

// isPyWord is Python's \w for str patterns: alphanumeric or underscore.
func isPyWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// mergeRuns joins adjacent runs of equal weight (never across a Break), as
// A1111 does after parsing.
func mergeRuns(res []WeightedText) []WeightedText {
	out := res[:1]
	for _, r := range res[1:] {
		last := &out[len(out)-1]
		if !r.Break && !last.Break && r.Weight == last.Weight {
			last.Text += r.Text
			continue
		}
		out = append(out, r)
	}
	return out
}

// textIDs tokenizes one run exactly as Encode tokenizes a whole prompt, so
// a prompt that parses to a single run gets Encode's ids. Added words
// (WithWords) are split out of the raw text first and the text between
// them is tokenized on its own, as transformers does with added tokens.
func (t *Tokenizer) textIDs(tb *tables, s string) []int32 {
	var ids []int32
	t.splitWords(s, func(text string, w *addedWord) {
		if w != nil {
			ids = append(ids, w.ids...)
			return
		}
		splitPieces(openAIClean(text), func(piece string) {
			switch piece {
			case bosText:
				ids = append(ids, BOS)
			case eotText:
				ids = append(ids, EOT)
			default:
				ids = append(ids, t.bpe(tb, piece)...)
			}
		})
	})
	return ids
}

// weightedTokens tokenizes each run on its own (as A1111 does, so a word
// split by a bracket is two words) and calls brk at each BREAK.
func (t *Tokenizer) weightedTokens(prompt string, tok func(id int32, w float64), brk func()) {
	tb := vocabTables()
	for _, r := range ParseWeights(prompt) {
		if r.Break {
			brk()
			continue
		}
		for _, id := range t.textIDs(tb, r.Text) {
			tok(id, r.Weight)
		}
	}
}

// EncodeWeighted is Encode with emphasis syntax: it returns the ContextLen
// ids ([BOS] + first 75 tokens + [EOT] + padding), the weight of each (1 for
// BOS, EOT and padding) and the Encoding (IDs is the same slice as ids;
// Tokens, TextTokens, Truncated and Dropped describe the text without the
// syntax). BREAK has no effect here beyond separating words; see
// EncodeWeightedChunks. A prompt without \ ( ) [ ] or the word BREAK gives
// exactly Encode's result and weight 1 everywhere.
func (t *Tokenizer) EncodeWeighted(prompt string) (ids []int, weights []float64, enc Encoding) {
	tb := vocabTables()
	var all []int32
	var ws []float64
	t.weightedTokens(prompt, func(id int32, w float64) {
		all = append(all, id)
		ws = append(ws, w)
	}, func() {})

	enc = Encoding{
		IDs:        make([]int, ContextLen),
		Tokens:     make([]string, len(all)),
		TextTokens: len(all),
		Truncated:  len(all) > maxTextTokens,
	}
	for i, id := range all {
		enc.Tokens[i] = t.token(tb, id)
	}
	kept := all
	if enc.Truncated {
		kept = all[:maxTextTokens]
		dropped := make([]int, 0, len(all)-maxTextTokens)
		for _, id := range all[maxTextTokens:] {
			dropped = append(dropped, int(id))
		}
		enc.Dropped = strings.TrimSpace(t.Decode(dropped))
	}
	weights = make([]float64, ContextLen)
	for i := range weights {
		weights[i] = 1
	}
	enc.IDs[0] = BOS
	for i, id := range kept {
		enc.IDs[1+i] = int(id)
		weights[1+i] = ws[i]
	}
	enc.IDs[1+len(kept)] = EOT
	for i := 2 + len(kept); i < ContextLen; i++ {
		enc.IDs[i] = t.padID
	}
	return enc.IDs, weights, enc
}

// EncodeWeightedChunks encodes a prompt of any length the way AUTOMATIC1111
// and stable-diffusion.cpp do for long prompts: the tokens are cut into
// chunks of 75, each encoded as [BOS] + tokens + [EOT] + padding (ContextLen
// ids, weight 1 outside the text). BREAK ends the current chunk even if it
// is short or empty (so "BREAK BREAK" makes an empty chunk, as in A1111).
// There is always at least one chunk. A1111's comma backtracking (moving
// the words after a late comma to the next chunk) is not done.
func (t *Tokenizer) EncodeWeightedChunks(prompt string) (ids [][]int, weights [][]float64) {
	var curIDs []int
	var curW []float64
	flush := func() {
		c := make([]int, ContextLen)
		w := make([]float64, ContextLen)
		for i := range w {
			w[i] = 1
		}
		c[0] = BOS
		copy(c[1:], curIDs)
		copy(w[1:], curW)
		c[1+len(curIDs)] = EOT
		for i := 2 + len(curIDs); i < ContextLen; i++ {
			c[i] = t.padID
		}
		ids = append(ids, c)
		weights = append(weights, w)
		curIDs, curW = curIDs[:0], curW[:0]
	}
	t.weightedTokens(prompt, func(id int32, w float64) {
		if len(curIDs) == maxTextTokens {
			flush()
		}
		curIDs = append(curIDs, int(id))
		curW = append(curW, w)
	}, flush)
	if len(curIDs) > 0 || len(ids) == 0 {
		flush()
	}
	return ids, weights
}

// ApplyWeights scales the rows of z ([len(weights), dim], one row per token)
// by their weights and then rescales everything so the mean of z is what it
// was, as AUTOMATIC1111 does:
//
//	original_mean = z.mean(); z *= w[:, None]; z *= original_mean / z.mean()
//
// The products and the ratio are float32 like torch's; the means are summed
// in float64 and rounded to float32 (torch's reduction order cannot be
// reproduced, so the last bit may differ). A1111 takes the mean over the
// whole batch; this takes it over one sequence. If the weighted mean is
// exactly 0 the rescaling is skipped rather than filling z with Inf/NaN.
// All weights 1 leave z unchanged.
func ApplyWeights(z []float32, weights []float64, dim int) {
	if dim <= 0 || len(z) != len(weights)*dim {
		panic("textenc: ApplyWeights: z is not len(weights) rows of dim values")
	}
	allOne := true
	for _, w := range weights {
		if w != 1 {
			allOne = false
			break
		}
	}
	if allOne || len(z) == 0 {
		return
	}
	orig := meanF32(z)
	for r, w := range weights {
		wf := float32(w)
		row := z[r*dim : (r+1)*dim]
		for i := range row {
			row[i] *= wf
		}
	}
	cur := meanF32(z)
	if cur == 0 {
		return
	}
	scale := orig / cur
	for i := range z {
		z[i] *= scale
	}
}

func meanF32(z []float32) float32 {
	var s float64
	for _, v := range z {
		s += float64(v)
	}
	return float32(s / float64(len(z)))
}
