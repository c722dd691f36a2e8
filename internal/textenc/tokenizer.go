package textenc

import (
	"bytes"
	"compress/gzip"
	_ "embed" // the CLIP merge list
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// bpeVocabGz is OpenAI CLIP's clip/bpe_simple_vocab_16e6.txt.gz, unchanged
// (MIT licence, see LICENSE.openai-CLIP beside it). The vocabulary is derived
// from it exactly as simple_tokenizer.py does, so no model folder is needed
// to tokenize; TestVocabMatchesHF proves the result equals the Hugging Face
// vocab.json id for id.
//
//go:embed bpe_simple_vocab_16e6.txt.gz
var bpeVocabGz []byte

// Special token ids and the sequence length of every SD 1.x/2.x text encoder.
const (
	BOS        = 49406 // <|startoftext|>
	EOT        = 49407 // <|endoftext|>; also SD1's padding id
	ContextLen = 77
)

const (
	numVocab      = 49408
	numMerges     = 49152 - 256 - 2 // merges[1 : 49152-256-2+1] in simple_tokenizer.py
	maxTextTokens = ContextLen - 2  // room left by BOS and EOT
	bosText       = "<|startoftext|>"
	eotText       = "<|endoftext|>"
	cacheLimit    = 1 << 14
)

// Tokenizer is CLIP's byte-level BPE tokenizer as OpenAI's
// simple_tokenizer.py implements it, wrapped the way Stable Diffusion calls
// it: [BOS] + first 75 tokens + [EOT], padded to 77. It is safe for
// concurrent use.
type Tokenizer struct {
	padID int
	cache *bpeCache
	words []addedWord // textual-inversion words (see WithWords)
}

// bpeCache maps cleaned pieces to BPE ids; tokenizers made from one
// another share it.
type bpeCache struct {
	mu sync.Mutex
	m  map[string][]int32
}

// Encoding is the result of Encode.
type Encoding struct {
	IDs        []int    // always ContextLen ids
	Tokens     []string // BPE strings of all text tokens, before truncation ("</w>" ends a word)
	TextTokens int      // number of text tokens before truncation
	Truncated  bool     // TextTokens > 75: the tail was dropped
	Dropped    string   // decoded text of the dropped tokens (best effort, for a warning)
}

// NewCLIPTokenizer returns a tokenizer that pads with padID: EOT for SD 1.x,
// 0 for SD 2.x (whose tokenizer pads with "!").
func NewCLIPTokenizer(padID int) *Tokenizer {
	return &Tokenizer{padID: padID, cache: &bpeCache{m: make(map[string][]int32)}}
}

// Encode cleans and tokenizes prompt and returns exactly ContextLen ids. It
// never fails: any string, including invalid UTF-8, gives a valid encoding.
func (t *Tokenizer) Encode(prompt string) Encoding {
	tb := vocabTables()
	ids := t.textIDs(tb, prompt)

	enc := Encoding{
		IDs:        make([]int, ContextLen),
		Tokens:     make([]string, len(ids)),
		TextTokens: len(ids),
		Truncated:  len(ids) > maxTextTokens,
	}
	for i, id := range ids {
		enc.Tokens[i] = t.token(tb, id)
	}
	kept := ids
	if enc.Truncated {
		kept = ids[:maxTextTokens]
		dropped := make([]int, 0, len(ids)-maxTextTokens)
		for _, id := range ids[maxTextTokens:] {
			dropped = append(dropped, int(id))
		}
		enc.Dropped = strings.TrimSpace(t.Decode(dropped))
	}
	enc.IDs[0] = BOS
	for i, id := range kept {
		enc.IDs[1+i] = int(id)
	}
	enc.IDs[1+len(kept)] = EOT
	for i := 2 + len(kept); i < ContextLen; i++ {
		enc.IDs[i] = t.padID
	}
	return enc
}

// Decode turns ids back into text like simple_tokenizer.decode: token strings
// are mapped back to bytes, decoded as UTF-8 (invalid sequences become
// U+FFFD, as with errors="replace"), and each "</w>" becomes a space. Special
// tokens appear as their text; ids outside the vocabulary as U+FFFD.
func (t *Tokenizer) Decode(ids []int) string {
	tb := vocabTables()
	var raw []byte
	for _, id := range ids {
		if w, ok := t.wordText(id); ok {
			raw = append(raw, w+"</w>"...)
			continue
		}
		if id < 0 || id >= len(tb.vocab) {
			raw = append(raw, "\ufffd"...)
			continue
		}
		for _, r := range tb.vocab[id] {
			if r >= 0 && int(r) < len(tb.byteOf) && tb.byteOf[r] >= 0 {
				raw = append(raw, byte(tb.byteOf[r]))
			}
		}
	}
	return strings.ReplaceAll(decodeUTF8Replace(raw), "</w>", " ")
}

// bpe returns the ids of one piece, through the cache.
func (t *Tokenizer) bpe(tb *tables, piece string) []int32 {
	c := t.cache
	c.mu.Lock()
	ids, ok := c.m[piece]
	c.mu.Unlock()
	if ok {
		return ids
	}
	ids = tb.bpe(piece)
	c.mu.Lock()
	if len(c.m) >= cacheLimit {
		clear(c.m)
	}
	c.m[piece] = ids
	c.mu.Unlock()
	return ids
}

// tables is the vocabulary, built once from the embedded merge list.
type tables struct {
	vocab    []string         // id -> token string
	byteID   [256]int32       // byte -> id of its bytes_to_unicode symbol (+256 for the "</w>" form)
	pairRank map[uint32]int32 // left<<16 | right -> merge rank
	mergeID  []int32          // rank -> id of the merged token
	byteOf   []int16          // bytes_to_unicode symbol -> byte, -1 if none
}

var (
	tablesOnce sync.Once
	tablesVal  *tables
)

// vocabTables builds the tables on first use (a few milliseconds; see
// BenchmarkLoad), so importing the package costs nothing.
func vocabTables() *tables {
	tablesOnce.Do(func() {
		tb, err := loadTables(bpeVocabGz)
		if err != nil {
			// The data is embedded in the binary and checked by the tests:
			// failing here means a corrupt build, not bad input.
			panic("textenc: embedded CLIP vocabulary: " + err.Error())
		}
		tablesVal = tb
	})
	return tablesVal
}

// bytesToUnicode is GPT-2's bytes_to_unicode(): printable Latin-1 bytes map
// to themselves, the other 68 to U+0100 onwards. It returns the bytes in the
// table's order (the vocabulary's first 256 entries) and each byte's symbol.
func bytesToUnicode() (order [256]byte, sym [256]rune) {
	n := 0
	inTable := [256]bool{}
	for _, rg := range [][2]int{{'!', '~'}, {0xa1, 0xac}, {0xae, 0xff}} {
		for b := rg[0]; b <= rg[1]; b++ {
			order[n], sym[b], inTable[b] = byte(b), rune(b), true
			n++
		}
	}
	extra := 0
	for b := 0; b < 256; b++ {
		if !inTable[b] {
			order[n], sym[b] = byte(b), rune(256+extra)
			n++
			extra++
		}
	}
	return order, sym
}

// loadTables builds the vocabulary as simple_tokenizer.SimpleTokenizer does:
// the 256 byte symbols, the same with "</w>", one token per merge (the two
// halves joined) for the first 48894 merges, then <|startoftext|> and
// <|endoftext|>. Only the needed head of the gzip stream is inflated.
func loadTables(gz []byte) (*tables, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	// Inflate just past the last needed line (about 0.5 MB of the 2.5 MB)
	// into one buffer; every merge half is then a substring of it.
	buf := make([]byte, 0, 640<<10)
	lines := 0
	for lines <= numMerges {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := zr.Read(buf[len(buf):cap(buf)])
		lines += bytes.Count(buf[len(buf):len(buf)+n], []byte{'\n'})
		buf = buf[:len(buf)+n]
		if rerr != nil {
			break
		}
	}
	text := string(buf)

	// Line 0 is the header; merges are lines 1..numMerges.
	_, text, _ = strings.Cut(text, "\n")
	mergeA := make([]string, numMerges)
	mergeB := make([]string, numMerges)
	arenaLen := 0
	for r := 0; r < numMerges; r++ {
		line, rest, ok := strings.Cut(text, "\n")
		if !ok && rest == "" && line == "" {
			return nil, fmt.Errorf("%d merges, want %d", r, numMerges)
		}
		text = rest
		a, b, ok := strings.Cut(line, " ")
		if !ok || a == "" || b == "" || strings.IndexByte(b, ' ') >= 0 {
			return nil, fmt.Errorf("merge line %d: %q", r+1, line)
		}
		mergeA[r], mergeB[r] = a, b
		arenaLen += len(a) + len(b)
	}

	tb := &tables{
		vocab:    make([]string, 0, numVocab),
		pairRank: make(map[uint32]int32, numMerges),
		mergeID:  make([]int32, numMerges),
		byteOf:   make([]int16, 512),
	}
	order, sym := bytesToUnicode()
	for i := range tb.byteOf {
		tb.byteOf[i] = -1
	}
	for _, b := range order {
		tb.vocab = append(tb.vocab, string(sym[b]))
		tb.byteOf[sym[b]] = int16(b)
	}
	for i := 0; i < 256; i++ {
		tb.vocab = append(tb.vocab, tb.vocab[i]+"</w>")
		tb.byteID[order[i]] = int32(i)
	}
	// The merged tokens, concatenated into one allocation.
	arena := make([]byte, 0, arenaLen)
	for r := range mergeA {
		arena = append(append(arena, mergeA[r]...), mergeB[r]...)
	}
	joined := string(arena)
	for r, off := range mergeA {
		n := len(off) + len(mergeB[r])
		tb.vocab = append(tb.vocab, joined[:n])
		joined = joined[n:]
	}
	tb.vocab = append(tb.vocab, bosText, eotText)

	// encoder = dict(zip(vocab, range(len(vocab)))): a later duplicate
	// wins, exactly as in Python (there is none; TestVocabMatchesHF).
	encoder := make(map[string]int32, numVocab)
	for id, tok := range tb.vocab {
		encoder[tok] = int32(id)
	}
	for r := range mergeA {
		a, okA := encoder[mergeA[r]]
		b, okB := encoder[mergeB[r]]
		if !okA || !okB {
			return nil, fmt.Errorf("merge %d (%q %q) refers to unknown tokens", r, mergeA[r], mergeB[r])
		}
		// bpe_ranks = dict(zip(merges, ranks)): a later duplicate would win.
		tb.pairRank[uint32(a)<<16|uint32(b)] = int32(r)
		tb.mergeID[r] = int32(512 + r)
		if len(encoder) != numVocab { // duplicates: the merged string maps to its last id
			tb.mergeID[r] = encoder[tb.vocab[512+r]]
		}
	}
	return tb, nil
}

// bpe applies the merges to one piece. simple_tokenizer.bpe repeatedly picks
// the lowest-ranked adjacent pair and merges all its occurrences left to
// right. A min-heap ordered by (rank, position) does the same in O(n log n):
// a merge only creates pairs that contain the new token, and those rank
// above the merge that made it (TestMergeOrder checks this holds for the
// whole list), so all occurrences of the current pair are merged, leftmost
// first, before any new pair can come up, exactly as in the Python loop.
func (tb *tables) bpe(piece string) []int32 {
	n := len(piece)
	if n == 0 {
		return nil
	}
	id := make([]int32, n)
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := 0; i < n; i++ {
		id[i] = tb.byteID[piece[i]]
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	id[n-1] += 256 // "</w>" on the last symbol
	next[n-1] = -1

	h := pairHeap(make([]pairItem, 0, n))
	push := func(pos int32) {
		if pos < 0 || next[pos] < 0 {
			return
		}
		r := next[pos]
		if rank, ok := tb.pairRank[uint32(id[pos])<<16|uint32(id[r])]; ok {
			h.push(pairItem{rank: rank, pos: pos, left: id[pos], right: id[r]})
		}
	}
	for i := int32(0); i < int32(n)-1; i++ {
		push(i)
	}
	for len(h) > 0 {
		it := h.pop()
		r := next[it.pos]
		// Skip entries made stale by an earlier merge: a merged or removed
		// symbol never gets its old id back, so comparing ids suffices.
		if id[it.pos] != it.left || r < 0 || id[r] != it.right {
			continue
		}
		id[it.pos] = tb.mergeID[it.rank]
		id[r] = -1
		next[it.pos] = next[r]
		if nr := next[r]; nr >= 0 {
			prev[nr] = it.pos
		}
		if p := prev[it.pos]; p >= 0 {
			push(p)
		}
		push(it.pos)
	}
	out := make([]int32, 0, n)
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, id[i])
	}
	return out
}

type pairItem struct {
	rank, pos   int32
	left, right int32
}

// pairHeap is a binary min-heap on (rank, pos).
type pairHeap []pairItem

func (h pairHeap) less(i, j int) bool {
	return h[i].rank < h[j].rank || h[i].rank == h[j].rank && h[i].pos < h[j].pos
}

func (h *pairHeap) push(it pairItem) {
	*h = append(*h, it)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *pairHeap) pop() pairItem {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if l+1 < len(s) && s.less(l+1, m) {
			m = l + 1
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// splitPieces is re.findall of simple_tokenizer's pattern (the `regex`
// module, IGNORECASE) on cleaned text:
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// At each position the first alternative that matches wins; whitespace
// matches none and is skipped. Written out by hand: it is clearer than the
// regexp and has no backtracking to get wrong.
func splitPieces(s string, emit func(string)) {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			i += n
			continue
		case r == '<':
			if m := matchFold(s[i:], bosText); m > 0 {
				emit(s[i : i+m])
				i += m
				continue
			}
			if m := matchFold(s[i:], eotText); m > 0 {
				emit(s[i : i+m])
				i += m
				continue
			}
		case r == '\'':
			if m := matchContraction(s[i:]); m > 0 {
				emit(s[i : i+m])
				i += m
				continue
			}
		}
		switch {
		case isLetterCI(r):
			j := i + n
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if !isLetterCI(r2) {
					break
				}
				j += n2
			}
			emit(s[i:j])
			i = j
		case isNumberCI(r):
			emit(s[i : i+n])
			i += n
		default:
			j := i + n
			for j < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[j:])
				if unicode.IsSpace(r2) || isLetterCI(r2) || isNumberCI(r2) {
					break
				}
				j += n2
			}
			emit(s[i:j])
			i = j
		}
	}
}

// matchContraction matches 's 't 're 've 'm 'll 'd at the start of s.
func matchContraction(s string) int {
	for _, c := range [...]string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"} {
		if m := matchFold(s, c); m > 0 {
			return m
		}
	}
	return 0
}

// matchFold returns the byte length of the prefix of s that equals lit under
// simple case folding (how the regex module's IGNORECASE compares literals:
// after lower-casing, "ſ" still matches "s"), or 0.
func matchFold(s, lit string) int {
	i := 0
	for _, p := range lit {
		if i >= len(s) {
			return 0
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !foldEq(p, r) {
			return 0
		}
		i += n
	}
	return i
}

func foldEq(a, b rune) bool {
	if a == b {
		return true
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}

// isLetterCI is [\p{L}] under IGNORECASE: the character or one of its case
// variants is a letter (this adds U+0345 COMBINING YPOGEGRAMMENI, whose
// variants are iotas, and little else).
func isLetterCI(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return anyCase(r, unicode.IsLetter)
}

// isNumberCI is [\p{N}] under IGNORECASE.
func isNumberCI(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return anyCase(r, unicode.IsNumber)
}

func anyCase(r rune, is func(rune) bool) bool {
	if is(r) {
		return true
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if is(f) {
			return true
		}
	}
	return false
}

// decodeUTF8Replace is bytes.decode("utf-8", errors="replace"): each maximal
// invalid subpart (a truncated sequence counts once) becomes one U+FFFD.
func decodeUTF8Replace(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			sb.Write(b[i : i+n])
			i += n
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += maximalSubpart(b[i:])
	}
	return sb.String()
}

// maximalSubpart is the length of the longest prefix of b (which does not
// start a valid sequence) that is still the start of a well-formed one, at
// least 1.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xbf)
	switch {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		need, lo = 2, 0xa0
	case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
		need = 2
	case c == 0xed:
		need, hi = 2, 0x9f
	case c == 0xf0:
		need, lo = 3, 0x90
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	case c == 0xf4:
		need, hi = 3, 0x8f
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		if b[n] < lo || b[n] > hi {
			break
		}
		lo, hi = 0x80, 0xbf
		n++
	}
	return n
}
