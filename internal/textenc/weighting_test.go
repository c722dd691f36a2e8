package textenc

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

type wt = WeightedText

func brk() wt { return wt{Text: "BREAK", Weight: 1, Break: true} }

// TestParseWeightsA1111Doctests are the documented examples of
// AUTOMATIC1111's prompt_parser.parse_prompt_attention. The weights are
// compared exactly: the multiplications happen in the same order as there,
// so even 1.5730000000000004 must come out bit for bit.
func TestParseWeightsA1111Doctests(t *testing.T) {
	cases := []struct {
		in   string
		want []wt
	}{
		{"normal text", []wt{{"normal text", 1.0, false}}},
		{"an (important) word", []wt{{"an ", 1.0, false}, {"important", 1.1, false}, {" word", 1.0, false}}},
		{"(unbalanced", []wt{{"unbalanced", 1.1, false}}},
		{`\(literal\]`, []wt{{"(literal]", 1.0, false}}},
		{"(unnecessary)(parens)", []wt{{"unnecessaryparens", 1.1, false}}},
		{"a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", []wt{
			{"a ", 1.0, false},
			{"house", 1.5730000000000004, false},
			{" ", 1.1, false},
			{"on", 1.0, false},
			{" a ", 1.1, false},
			{"hill", 0.55, false},
			{", sun, ", 1.1, false},
			{"sky", 1.4641000000000006, false},
			{".", 1.1, false},
		}},
	}
	for _, c := range cases {
		checkParse(t, c.in, c.want, 0)
	}
}

func checkParse(t *testing.T, in string, want []wt, tol float64) {
	t.Helper()
	got := ParseWeights(in)
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.Text == w.Text && g.Break == w.Break &&
			(g.Weight == w.Weight || math.Abs(g.Weight-w.Weight) <= tol)
	}
	if !ok {
		t.Errorf("ParseWeights(%q)\n got %v\nwant %v", in, got, want)
	}
}

func TestParseWeightsEdgeCases(t *testing.T) {
	sq := 1 / 1.1
	cases := []struct {
		name, in string
		want     []wt
	}{
		{"empty", "", []wt{{"", 1, false}}},
		{"only open", "((([[", []wt{{"", 1, false}}},
		{"empty pair", "()", []wt{{"", 1, false}}},
		{"only close", "))]]", []wt{{"))]]", 1, false}}},
		{"close then open", ")(x", []wt{{")", 1, false}, {"x", 1.1, false}}},
		{"double round", "((word))", []wt{{"word", 1.1 * 1.1, false}}},
		{"square", "[word]", []wt{{"word", sq, false}}},
		{"double square", "[[word]]", []wt{{"word", 1 * sq * sq, false}}},
		{"explicit", "(word:1.5)", []wt{{"word", 1.5, false}}},
		{"explicit nested", "((word:1.5))", []wt{{"word", 1.5 * 1.1, false}}},
		{"negative", "a (bad:-0.5) test", []wt{{"a ", 1, false}, {"bad", -0.5, false}, {" test", 1, false}}},
		{"plus sign", "(x:+2)", []wt{{"x", 2, false}}},
		{"leading dot", "(x:.5)", []wt{{"x", 0.5, false}}},
		{"zero", "(x:0)", []wt{{"x", 0, false}}},
		{"trailing dot", "(x:2.)", []wt{{"x", 2, false}}},
		{"signed dot", "(x:-.5)", []wt{{"x", -0.5, false}}},
		{"sign only", "(x:+)", []wt{{"x:+", 1.1, false}}},
		{"mixed close", "(a[b)c]", []wt{{"a", 1.1, false}, {"b", sq * 1.1, false}, {"c", sq, false}}},
		{"square closes over round", "[a(b]c)", []wt{{"a", sq, false}, {"b", sq * 1.1, false}, {"c", 1.1, false}}},
		{"colon no number", "(a:b)", []wt{{"a:b", 1.1, false}}},
		{"colon at end", "(a:)", []wt{{"a:", 1.1, false}}},
		{"colon bad number", "(a:.)", []wt{{"a:.", 1.1, false}}},
		{"colon two dots", "(a:1.2.3)", []wt{{"a:1.2.3", 1.1, false}}},
		{"colon unclosed", "(a:1.5", []wt{{"a:1.5", 1.1, false}}},
		{"weight without open", "a:1.5) b", []wt{{"a:1.5) b", 1, false}}},
		{"plain colon", "12:30pm, ratio 16:9", []wt{{"12:30pm, ratio 16:9", 1, false}}},
		{"escaped backslash", `a\\b`, []wt{{`a\b`, 1, false}}},
		{"lone backslash", `a\b`, []wt{{"ab", 1, false}}},
		{"only backslash", `\`, []wt{{"", 1, false}}},
		{"escapes inside", `(\(x\))`, []wt{{"(x)", 1.1, false}}},
		{"escape splits merge", `(a)\(b)`, []wt{{"a", 1.1, false}, {"(b)", 1, false}}},
		{"huge weight", "(x:1" + strings.Repeat("0", 400) + ")", []wt{{"x", math.Inf(1), false}}},
		{"non-ASCII", "(猫:1.2) 日本の(風景)", []wt{{"猫", 1.2, false}, {" 日本の", 1, false}, {"風景", 1.1, false}}},
		{"emoji in brackets", "[🚀]", []wt{{"🚀", sq, false}}},
		{"non-ASCII digit is text", "(x:١)", []wt{{"x:١", 1.1, false}}},

		{"break", "a BREAK b", []wt{{"a", 1, false}, brk(), {"b", 1, false}}},
		{"break alone", "BREAK", []wt{{"", 1, false}, brk(), {"", 1, false}}},
		{"break twice", "a BREAK BREAK b", []wt{{"a", 1, false}, brk(), {"", 1, false}, brk(), {"b", 1, false}}},
		{"break punctuation", "a,BREAK,b", []wt{{"a,", 1, false}, brk(), {",b", 1, false}}},
		{"break newlines", "a\n BREAK\t\nb", []wt{{"a", 1, false}, brk(), {"b", 1, false}}},
		{"break in word", "aBREAK BREAKfast BREAK_ BREAK1", []wt{{"aBREAK BREAKfast BREAK_ BREAK1", 1, false}}},
		{"break lower case", "a break b", []wt{{"a break b", 1, false}}},
		{"break after letter é", "éBREAK b", []wt{{"éBREAK b", 1, false}}},
		{"break after bracket", "(a)BREAK(b)", []wt{{"a", 1.1, false}, {"", 1, false}, brk(), {"", 1, false}, {"b", 1.1, false}}},
		{"break in brackets", "(a BREAK b)", []wt{{"a", 1.1, false}, brk(), {"b", 1.1, false}}},
		{"break after colon", "a:BREAK", []wt{{"a:", 1, false}, brk(), {"", 1, false}}},
		{"break ideographic space", "a\u3000BREAK\u3000b", []wt{{"a", 1, false}, brk(), {"b", 1, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkParse(t, c.in, c.want, 1e-12) })
	}
}

// TestParseWeightsDeepNesting: the bracket stacks are slices, so depth costs
// memory, not stack, and unclosed brackets still finish quickly.
func TestParseWeightsDeepNesting(t *testing.T) {
	const n = 10000
	pow := func(m float64, k int) float64 {
		w := 1.0
		for range k {
			w *= m
		}
		return w
	}
	checkParse(t, strings.Repeat("(", n)+"x", []wt{{"x", pow(1.1, n), false}}, 0)
	checkParse(t, strings.Repeat("(", n)+"x"+strings.Repeat(")", n), []wt{{"x", pow(1.1, n), false}}, 0)
	checkParse(t, strings.Repeat("[", 50)+"x"+strings.Repeat("]", 50), []wt{{"x", pow(1/1.1, 50), false}}, 0)
	checkParse(t, strings.Repeat(")", n), []wt{{strings.Repeat(")", n), 1, false}}, 0)

	// n runs and n open brackets: the quadratic worst case of A1111's
	// algorithm, 5e7 multiplications. Run k gets 1.1^(k+1), which reaches
	// +Inf, so the tail merges.
	got := ParseWeights(strings.Repeat("(x", n))
	if got[0] != (wt{"x", 1.1, false}) || concatText(got) != strings.Repeat("x", n) {
		t.Errorf("first run %v, %d runs", got[0], len(got))
	}
	if last := got[len(got)-1]; !math.IsInf(last.Weight, 1) {
		t.Errorf("last run %v", last)
	}
}

// refAttention is the token pattern of A1111's parser, used only by the
// reference below to check the hand-written scanner.
var refAttention = regexp.MustCompile(`\\\(|\\\)|\\\[|\\]|\\\\|\\|\(|\[|:([+-]?[.\d]+)\)|\)|]|[^\\()\[\]:]+|:`)

// refParse is an independent, regexp-driven rendering of the same rules.
func refParse(s string) []wt {
	var res []wt
	var round, square []int
	mul := func(start int, m float64) {
		for i := start; i < len(res); i++ {
			if !res[i].Break {
				res[i].Weight *= m
			}
		}
	}
	text := func(s string) {
		for k, part := range splitBreak(s) {
			if k > 0 {
				res = append(res, brk())
			}
			res = append(res, wt{part, 1, false})
		}
	}
	for pos := 0; pos < len(s); {
		m := refAttention.FindStringSubmatchIndex(s[pos:])
		tok := s[pos+m[0] : pos+m[1]]
		next := pos + m[1]
		switch {
		case strings.HasPrefix(tok, `\`):
			res = append(res, wt{tok[1:], 1, false})
		case tok == "(":
			round = append(round, len(res))
		case tok == "[":
			square = append(square, len(res))
		case m[2] >= 0 && len(round) > 0:
			w, err := strconv.ParseFloat(s[pos+m[2]:pos+m[3]], 64)
			if err != nil && !strings.Contains(err.Error(), "range") {
				text(":")
				next = pos + 1
				break
			}
			mul(round[len(round)-1], w)
			round = round[:len(round)-1]
		case tok == ")" && len(round) > 0:
			mul(round[len(round)-1], 1.1)
			round = round[:len(round)-1]
		case tok == "]" && len(square) > 0:
			mul(square[len(square)-1], 1/1.1)
			square = square[:len(square)-1]
		default:
			text(tok)
		}
		pos = next
	}
	for _, p := range round {
		mul(p, 1.1)
	}
	for _, p := range square {
		mul(p, 1/1.1)
	}
	if len(res) == 0 {
		return []wt{{"", 1, false}}
	}
	return mergeRuns(res)
}

func sameRuns(a, b []wt) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		wa, wb := a[i].Weight, b[i].Weight
		if a[i].Text != b[i].Text || a[i].Break != b[i].Break ||
			!(wa == wb || math.IsNaN(wa) && math.IsNaN(wb)) {
			return false
		}
	}
	return true
}

// stripSyntax is the prompt's text with the syntax removed, by rules
// simpler than the parser's: escapes give their character, a lone '\' and
// every '(' '[' vanish, a ')' or ']' vanishes only if it closes something,
// ":number)" vanishes when it closes a '(', and BREAK with its surrounding
// whitespace vanishes.
func stripSyntax(s string) string {
	var b strings.Builder
	var open []byte // open brackets in order, for counting each kind
	count := func(c byte) int { return strings.Count(string(open), string(c)) }
	pop := func(c byte) { // remove the last c
		i := strings.LastIndexByte(string(open), c)
		open = append(open[:i:i], open[i+1:]...)
	}
	var plain strings.Builder // current text fragment, for BREAK removal
	flush := func() {
		b.WriteString(strings.Join(splitBreak(plain.String()), ""))
		plain.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			flush()
			if i+1 < len(s) && strings.IndexByte(`()[]\`, s[i+1]) >= 0 {
				b.WriteByte(s[i+1])
				i++
			}
		case c == '(' || c == '[':
			flush()
			open = append(open, c)
		case c == ')' && count('(') > 0:
			flush()
			pop('(')
		case c == ']' && count('[') > 0:
			flush()
			pop('[')
		case c == ')' || c == ']' || c == ':':
			flush()
			if c == ':' && count('(') > 0 {
				if end, _, ok := weightSuffix(s[i:]); end > 0 && ok {
					pop('(')
					i += end - 1
					continue
				}
			}
			plain.WriteByte(c)
		default:
			plain.WriteByte(c)
		}
	}
	flush()
	return b.String()
}

func concatText(runs []wt) string {
	var b strings.Builder
	for _, r := range runs {
		if !r.Break {
			b.WriteString(r.Text)
		}
	}
	return b.String()
}

func TestParseWeightsMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	alphabet := []string{"a", "b", " ", "(", ")", "[", "]", ":", "1", ".", "-", `\`, "BREAK", " BREAK ", ":1.5)", "é", "\n"}
	for range 20000 {
		var sb strings.Builder
		for range rng.Intn(16) {
			sb.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		checkAgainstReference(t, sb.String())
	}
}

func checkAgainstReference(t *testing.T, s string) {
	t.Helper()
	got := ParseWeights(s)
	if want := refParse(s); !sameRuns(got, want) {
		t.Fatalf("ParseWeights(%q)\n got %v\nwant %v (reference)", s, got, want)
	}
	if g, w := concatText(got), stripSyntax(s); g != w {
		t.Fatalf("ParseWeights(%q): text %q, want %q", s, g, w)
	}
	for i := 1; i < len(got); i++ {
		if !got[i].Break && !got[i-1].Break && got[i].Weight == got[i-1].Weight {
			t.Fatalf("ParseWeights(%q): runs %d and %d not merged: %v", s, i-1, i, got)
		}
	}
	if !strings.ContainsAny(s, `\()[]`) && !strings.Contains(s, "BREAK") {
		if want := []wt{{s, 1, false}}; !sameRuns(got, want) {
			t.Fatalf("plain ParseWeights(%q) = %v", s, got)
		}
	}
}

func FuzzParseWeights(f *testing.F) {
	for _, s := range []string{
		"", "normal text", "an (important) word", "(unbalanced", `\(literal\]`,
		"(unnecessary)(parens)", "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).",
		"a BREAK b", "(a BREAK b)", "(x:1.2.3)", `\`, "\xff(\xfe:1)", "é BREAK\u3000x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkAgainstReference(t, s)
	})
}

// plainPrompts are the fixture prompts without emphasis syntax plus
// generated ones (some past 75 tokens, some with ':'), at least 50 in all.
func plainPrompts(t *testing.T) []string {
	var out []string
	for _, c := range loadTokenizerFixture(t).Cases {
		if !strings.ContainsAny(c.Prompt, `\()[]`) && !strings.Contains(c.Prompt, "BREAK") {
			out = append(out, c.Prompt)
		}
	}
	words := []string{"a", "photo", "of", "cat", "on", "mars", "12:30", "ratio 16:9", "café", "日本", "🚀",
		"masterpiece,", "best", "quality", "&amp;", "don't", "HDR", "8k", "<|endoftext|>", "--", "{x}", "<y>"}
	rng := rand.New(rand.NewSource(1))
	for len(out) < 60 {
		n := 1 + rng.Intn(120)
		ws := make([]string, n)
		for i := range ws {
			ws[i] = words[rng.Intn(len(words))]
		}
		out = append(out, strings.Join(ws, " "))
	}
	return out
}

func TestEncodeWeightedPlainEqualsEncode(t *testing.T) {
	prompts := plainPrompts(t)
	if len(prompts) < 50 {
		t.Fatalf("only %d plain prompts", len(prompts))
	}
	for _, pad := range []int{EOT, 0} {
		tok := NewCLIPTokenizer(pad)
		for _, p := range prompts {
			want := tok.Encode(p)
			ids, ws, enc := tok.EncodeWeighted(p)
			if !reflect.DeepEqual(enc, want) || !reflect.DeepEqual(ids, want.IDs) {
				t.Errorf("pad %d, %q:\n got %+v\nwant %+v", pad, p, enc, want)
			}
			for i, w := range ws {
				if w != 1 {
					t.Errorf("pad %d, %q: weight[%d] = %v", pad, p, i, w)
					break
				}
			}
			// One chunk's worth of text gives Encode's ids as the only chunk.
			if !want.Truncated {
				cids, cws := tok.EncodeWeightedChunks(p)
				if len(cids) != 1 || !reflect.DeepEqual(cids[0], want.IDs) || !reflect.DeepEqual(cws[0], ws) {
					t.Errorf("pad %d, %q: chunks %v", pad, p, cids)
				}
			}
		}
	}
}

func ones(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func TestEncodeWeighted(t *testing.T) {
	tok := NewCLIPTokenizer(EOT)
	ids, ws, enc := tok.EncodeWeighted("an (important) word, [blurry]")
	plain := tok.Encode("an important word, blurry")
	if !reflect.DeepEqual(ids, plain.IDs) || !reflect.DeepEqual(enc, plain) {
		t.Errorf("ids %v, want %v", ids, plain.IDs)
	}
	want := ones(ContextLen)
	want[2] = 1.1     // important
	want[5] = 1 / 1.1 // blurry
	if !reflect.DeepEqual(ws, want) {
		t.Errorf("weights %v, want %v", ws[:8], want[:8])
	}

	// Each run is tokenized on its own, as in A1111: a bracket splits a word.
	ids, _, _ = tok.EncodeWeighted("beau(tiful)")
	if a, b := tok.Encode("beau tiful").IDs, tok.Encode("beautiful").IDs; !reflect.DeepEqual(ids, a) || reflect.DeepEqual(a, b) {
		t.Errorf("split word: %v", ids[:5])
	}

	// BREAK only separates words here.
	ids, ws, _ = tok.EncodeWeighted("a cat BREAK a dog")
	if !reflect.DeepEqual(ids, tok.Encode("a cat a dog").IDs) || !reflect.DeepEqual(ws, ones(ContextLen)) {
		t.Errorf("BREAK: %v", ids[:8])
	}

	// Truncation keeps the first 75 tokens with their weights.
	p := strings.Repeat("(cat) ", 50) + strings.Repeat("dog ", 50)
	ids, ws, enc = tok.EncodeWeighted(p)
	plain = tok.Encode(strings.Repeat("cat ", 50) + strings.Repeat("dog ", 50))
	if !reflect.DeepEqual(enc, plain) || !enc.Truncated || enc.TextTokens != 100 || enc.Dropped != strings.TrimSpace(strings.Repeat("dog ", 25)) {
		t.Errorf("truncated: %+v", enc)
	}
	for i, w := range ws {
		want := 1.0
		if i >= 1 && i <= 50 {
			want = 1.1
		}
		if w != want {
			t.Fatalf("weight[%d] = %v, want %v", i, w, want)
		}
	}
	_ = ids
}

func TestEncodeWeightedChunks(t *testing.T) {
	tok := NewCLIPTokenizer(0)
	cat := tok.Encode("cat").IDs[1]
	chunk := func(n int) []int { // [BOS] + n cats + [EOT] + padding
		c := make([]int, ContextLen)
		c[0] = BOS
		for i := 1; i <= n; i++ {
			c[i] = cat
		}
		c[n+1] = EOT
		return c
	}
	cats := func(n int) string { return strings.Repeat("cat ", n) }
	cases := []struct {
		prompt string
		want   []int // cats per chunk
	}{
		{"", []int{0}},
		{"BREAK", []int{0}},
		{"BREAK BREAK", []int{0, 0}},
		{"BREAK cat", []int{0, 1}},
		{"cat BREAK", []int{1}},
		{"cat BREAK cat", []int{1, 1}},
		{cats(75), []int{75}},
		{cats(76), []int{75, 1}},
		{cats(150), []int{75, 75}},
		{cats(200), []int{75, 75, 50}},
		{cats(75) + "BREAK cat", []int{75, 1}},
		{cats(10) + "BREAK " + cats(100), []int{10, 75, 25}},
	}
	for _, c := range cases {
		ids, ws := tok.EncodeWeightedChunks(c.prompt)
		if len(ids) != len(c.want) || len(ws) != len(c.want) {
			t.Errorf("%.30q: %d chunks, want %d", c.prompt, len(ids), len(c.want))
			continue
		}
		for k, n := range c.want {
			if !reflect.DeepEqual(ids[k], chunk(n)) || !reflect.DeepEqual(ws[k], ones(ContextLen)) {
				t.Errorf("%.30q chunk %d: %v", c.prompt, k, ids[k])
			}
		}
	}

	// Weights follow their tokens across the chunk boundary.
	ids, ws := tok.EncodeWeightedChunks(cats(74) + "(cat cat:1.5) [cat]")
	if len(ids) != 2 || !reflect.DeepEqual(ids[0], chunk(75)) || !reflect.DeepEqual(ids[1], chunk(2)) {
		t.Fatalf("chunks %v", ids)
	}
	if ws[0][74] != 1 || ws[0][75] != 1.5 || ws[0][76] != 1 || ws[1][0] != 1 || ws[1][1] != 1.5 || ws[1][2] != 1/1.1 || ws[1][3] != 1 {
		t.Errorf("weights %v / %v", ws[0][73:], ws[1][:4])
	}
}

func TestApplyWeights(t *testing.T) {
	const dim = 4
	z := make([]float32, 3*dim)
	for i := range z {
		z[i] = float32(i%5) - 1.25
	}
	orig := append([]float32(nil), z...)

	ApplyWeights(z, []float64{1, 1, 1}, dim)
	if !reflect.DeepEqual(z, orig) {
		t.Fatalf("weights 1 changed z: %v", z)
	}

	w := []float64{1, 1.5, 1 / 1.1}
	ApplyWeights(z, w, dim)
	// The formula written out in float32, with the means of this small
	// input exact in both float32 and float64.
	mean := func(v []float32) float32 {
		var s float32
		for _, x := range v {
			s += x
		}
		return s / float32(len(v))
	}
	want := append([]float32(nil), orig...)
	m0 := mean(want)
	for i := range want {
		want[i] *= float32(w[i/dim])
	}
	scale := m0 / mean(want)
	for i := range want {
		want[i] *= scale
	}
	for i := range z {
		if math.Abs(float64(z[i]-want[i])) > 1e-6 {
			t.Fatalf("z[%d] = %v, want %v", i, z[i], want[i])
		}
	}
	if got := mean(z); math.Abs(float64(got-m0)) > 1e-6 {
		t.Errorf("mean %v, want %v", got, m0)
	}

	// A weighted mean of exactly 0 skips the rescale instead of making NaN.
	z = []float32{1, -1, 2, -2}
	ApplyWeights(z, []float64{2, 1}, 2)
	if fmt.Sprint(z) != "[2 -2 2 -2]" {
		t.Errorf("zero mean: %v", z)
	}

	defer func() {
		if recover() == nil {
			t.Error("no panic on a length mismatch")
		}
	}()
	ApplyWeights(make([]float32, 5), []float64{1, 1}, 2)
}
