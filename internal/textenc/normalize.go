package textenc

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file reproduces the text clean-up that OpenAI's clip/simple_tokenizer.py
// applies before BPE:
//
//	text = ftfy.fix_text(text)                      # ftfy 6.1.1, default config
//	text = html.unescape(html.unescape(text))
//	text = text.strip()                             # basic_clean
//	text = re.sub(r'\s+', ' ', text).strip()        # whitespace_clean
//	text = text.lower()
//
// Stable Diffusion's reference output depends on it (a curly quote, "&amp;",
// a ligature or a full-width letter tokenizes differently without it), so
// every step below follows the Python code rule for rule rather than "doing
// something similar". Python semantics that differ from Go's standard library
// are re-implemented here: str.isspace, str.lower (İ and final sigma),
// html.unescape's numeric references.
//
// ftfy.fix_text steps implemented (same order as ftfy's fix_and_explain, run
// to a fixed point, per line, as ftfy does):
//
//   - unescape_html ("auto": skipped for a line, and every later line, once a
//     line contains '<'): HTML5 named entities with ';', numeric references
//     via html.unescape, and the all-caps variants ftfy adds (&EACUTE;).
//   - fix_c1_controls: U+0080-U+009F -> their Windows-1252 characters.
//   - fix_latin_ligatures: ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ Ĳ ĳ ŉ Ǳ-ǌ -> letters.
//   - fix_character_width: U+3000 -> ' ', U+FF01-U+FFEF -> NFKC of the char.
//   - uncurl_quotes: U+02BC and U+2018-U+201B -> apostrophe, U+201C-U+201F -> '"'.
//   - fix_line_breaks: \r\n, \r, U+2028, U+2029, U+0085 -> \n.
//   - fix_surrogates: nothing to do in Go (UTF-8 strings hold no
//     surrogates); invalid UTF-8 bytes become U+FFFD one per byte first,
//     which is what Python gets from a surrogate-escaped argv after
//     fix_surrogates.
//   - remove_terminal_escapes: ESC '[' (digits|';')* letter.
//   - remove_control_chars: U+0000-0008, 000B, 000E-001F, 007F, 206A-206F,
//     FEFF, FFF9-FFFC. (Not U+200B or the soft hyphen: ftfy keeps them, and
//     so does the reference: "zero\u200bwidth" tokenizes with the ZWSP bytes.)
//   - normalization: NFC.
//
// Not implemented: fix_encoding (mojibake repair: "cafÃ©" -> "café"), whose
// heuristic (ftfy.badness.is_bad, a large hand-tuned regex) and sloppy
// codecs are far larger than the rest together. It only fires on text that
// looks like mis-decoded UTF-8, which prompts essentially never are; such a
// prompt is tokenized as written here, where OpenAI's tokenizer would first
// repair it.

// openAIClean is whitespace_clean(basic_clean(text)).lower().
func openAIClean(text string) string {
	text = toValidUTF8(text)
	text = ftfyFixText(text)
	text = pyHTMLUnescape(pyHTMLUnescape(text))
	text = collapseSpace(text)
	return pyLower(text)
}

// toValidUTF8 replaces every byte that is not part of a valid UTF-8 sequence
// with U+FFFD, one per byte (strings.ToValidUTF8 would merge runs).
func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// pyIsSpace is Python's str.isspace for one character (and what re's \s
// matches in a str pattern): bidi class WS, B or S, or category Zs. Unlike
// unicode.IsSpace it includes U+001C-U+001F.
func pyIsSpace(r rune) bool {
	if r >= 0x1c && r <= 0x1f {
		return true
	}
	return unicode.IsSpace(r)
}

// collapseSpace is re.sub(r'\s+', ' ', text).strip() (strip() of basic_clean
// is subsumed: it removes the same characters).
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace := false
	for _, r := range s {
		if pyIsSpace(r) {
			pendingSpace = b.Len() > 0
			continue
		}
		if pendingSpace {
			b.WriteByte(' ')
			pendingSpace = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pyLower is Python's str.lower(): the simple lower-case mapping, except
// U+0130 (İ) -> "i̇" (full mapping from SpecialCasing.txt, the only
// unconditional one) and U+03A3 (Σ) -> ς in the Final_Sigma context.
func pyLower(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	rs := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range rs {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3a3:
			if finalSigma(rs, i) {
				b.WriteRune(0x3c2)
			} else {
				b.WriteRune(0x3c3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma mirrors CPython's handle_capital_sigma: Σ is final when preceded
// by a cased letter and not followed by one (case-ignorable characters are
// skipped both ways).
func finalSigma(rs []rune, i int) bool {
	j := i - 1
	for j >= 0 && isCaseIgnorable(rs[j]) {
		j--
	}
	if j < 0 || !isCased(rs[j]) {
		return false
	}
	j = i + 1
	for j < len(rs) && isCaseIgnorable(rs[j]) {
		j++
	}
	return j == len(rs) || !isCased(rs[j])
}

// isCased is the derived property Cased (DerivedCoreProperties.txt).
func isCased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// isCaseIgnorable is the derived property Case_Ignorable: Mn, Me, Cf, Lm, Sk,
// and Word_Break MidLetter, MidNumLet and Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// ftfyMaxDecodeLength is TextFixerConfig.max_decode_length: fix_text cuts
// longer lines into pieces of this many characters.
const ftfyMaxDecodeLength = 1000000

// ftfyFixText is ftfy.fix_text with the default TextFixerConfig (less
// fix_encoding, see the file comment). It fixes each line (up to and
// including its '\n') separately; with unescape_html="auto" a line that
// contains '<' switches HTML unescaping off for itself and every later line.
func ftfyFixText(text string) string {
	if text == "" {
		return text
	}
	var out strings.Builder
	out.Grow(len(text))
	unescape := true
	for pos := 0; pos < len(text); {
		end := len(text)
		if k := strings.IndexByte(text[pos:], '\n'); k >= 0 {
			end = pos + k + 1
		}
		// Cap the segment at max_decode_length characters, as ftfy does.
		if end-pos > ftfyMaxDecodeLength {
			n, i := 0, pos
			for i < end && n < ftfyMaxDecodeLength {
				_, sz := utf8.DecodeRuneInString(text[i:])
				i += sz
				n++
			}
			end = i
		}
		seg := text[pos:end]
		if unescape && strings.IndexByte(seg, '<') >= 0 {
			unescape = false
		}
		out.WriteString(ftfyFixSegment(seg, unescape))
		pos = end
	}
	return out.String()
}

// ftfyFixSegment is ftfy's fix_and_explain loop: apply every fixer in order,
// repeat until nothing changes.
func ftfyFixSegment(text string, unescape bool) string {
	// Every fixer only ever shortens the text or maps characters 1:n for a
	// bounded set, so Python's unbounded loop terminates in a few rounds;
	// the bound here is only a guard against an implementation slip.
	for round := 0; round < len(text)+8; round++ {
		orig := text
		if unescape {
			text = ftfyUnescapeHTML(text)
		}
		text = fixC1Controls(text)
		text = mapRunes(text, ligatureOrWidth)
		text = uncurlQuotes(text)
		text = fixLineBreaks(text)
		text = removeTerminalEscapes(text)
		text = removeControlChars(text)
		text = norm.NFC.String(text)
		if text == orig {
			break
		}
	}
	return text
}

// cp1252C1 maps U+0080-U+009F to what the byte decodes to in ftfy's
// "sloppy-windows-1252" (bytes undefined in Windows-1252 stay themselves).
var cp1252C1 = [32]rune{
	0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
	0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
}

func fixC1Controls(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		if r >= 0x80 && r <= 0x9f {
			return string(cp1252C1[r-0x80]), true
		}
		return "", false
	})
}

// latinLigatures is ftfy.chardata.LIGATURES.
var latinLigatures = map[rune]string{
	'Ĳ': "IJ", 'ĳ': "ij", 'ŉ': "ʼn",
	'Ǳ': "DZ", 'ǲ': "Dz", 'ǳ': "dz", 'Ǆ': "DŽ", 'ǅ': "Dž", 'ǆ': "dž",
	'Ǉ': "LJ", 'ǈ': "Lj", 'ǉ': "lj", 'Ǌ': "NJ", 'ǋ': "Nj", 'ǌ': "nj",
	'ﬀ': "ff", 'ﬁ': "fi", 'ﬂ': "fl", 'ﬃ': "ffi", 'ﬄ': "ffl", 'ﬅ': "ſt", 'ﬆ': "st",
}

// ligatureOrWidth applies fix_latin_ligatures and then fix_character_width
// to one character. Their domains are disjoint and neither produces a
// character the other maps, so one pass equals the two passes.
func ligatureOrWidth(r rune) (string, bool) {
	switch {
	case r < 0x132:
		return "", false
	case r == 0x3000:
		return " ", true
	case r >= 0xff01 && r <= 0xffef:
		// WIDTH_MAP: every char of the range whose NFKC form differs.
		if s := norm.NFKC.String(string(r)); s != string(r) {
			return s, true
		}
		return "", false
	}
	s, ok := latinLigatures[r]
	return s, ok
}

func uncurlQuotes(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		switch {
		case r == 0x2bc || (r >= 0x2018 && r <= 0x201b):
			return "'", true
		case r >= 0x201c && r <= 0x201f:
			return `"`, true
		}
		return "", false
	})
}

func fixLineBreaks(s string) string {
	if !strings.ContainsAny(s, "\r\u2028\u2029\u0085") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer("\r", "\n", "\u2028", "\n", "\u2029", "\n", "\u0085", "\n").Replace(s)
}

// removeTerminalEscapes is ANSI_RE.sub("", text) with
// ANSI_RE = "\033\[((?:\d|;)*)([a-zA-Z])"; \d is any Unicode decimal digit.
func removeTerminalEscapes(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if r != ';' && !unicode.IsDigit(r) {
					break
				}
				j += n
			}
			if j < len(s) && (s[j]|0x20) >= 'a' && (s[j]|0x20) <= 'z' {
				i = j + 1
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// isFtfyControl is ftfy.chardata.CONTROL_CHARS.
func isFtfyControl(r rune) bool {
	switch {
	case r <= 0x08, r == 0x0b, r >= 0x0e && r <= 0x1f, r == 0x7f:
		return true
	case r >= 0x206a && r <= 0x206f, r == 0xfeff, r >= 0xfff9 && r <= 0xfffc:
		return true
	}
	return false
}

func removeControlChars(s string) string {
	return mapRunes(s, func(r rune) (string, bool) {
		if isFtfyControl(r) {
			return "", true
		}
		return "", false
	})
}

// mapRunes is str.translate: f returns a replacement and true for the
// characters it maps. It returns s itself when nothing maps.
func mapRunes(s string, f func(rune) (string, bool)) string {
	for i, r := range s {
		if _, ok := f(r); ok {
			var b strings.Builder
			b.Grow(len(s) + 8)
			b.WriteString(s[:i])
			for _, r := range s[i:] {
				if rep, ok := f(r); ok {
					b.WriteString(rep)
				} else {
					b.WriteRune(r)
				}
			}
			return b.String()
		}
	}
	return s
}

// ftfyUnescapeHTML is ftfy.fixes.unescape_html: every match of
// HTML_ENTITY_RE = "&#?[0-9A-Za-z]{1,24};" is replaced by _unescape_fixup.
func ftfyUnescapeHTML(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for {
		k := strings.IndexByte(s[i:], '&')
		if k < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		k += i
		b.WriteString(s[i:k])
		j := k + 1
		if j < len(s) && s[j] == '#' {
			j++
		}
		start := j
		for j < len(s) && j-start < 25 && isASCIIAlnum(s[j]) {
			j++
		}
		if n := j - start; n >= 1 && n <= 24 && j < len(s) && s[j] == ';' {
			b.WriteString(ftfyUnescapeFixup(s[k : j+1]))
			i = j + 1
			continue
		}
		b.WriteByte('&')
		i = k + 1
	}
}

func isASCIIAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ftfyUnescapeFixup is ftfy.fixes._unescape_fixup for one match "&...;".
func ftfyUnescapeFixup(ent string) string {
	if strings.HasPrefix(ent, "&#") {
		// Numeric: accepted only if html.unescape consumed the ';' too.
		u := pyHTMLUnescape(ent)
		if strings.IndexByte(u, ';') >= 0 {
			return ent
		}
		return u
	}
	// HTML_ENTITIES holds "&name;" for every HTML5 name with ';' ...
	if v, ok := html5Exact(ent); ok {
		return v
	}
	// ... plus, for each all-lower-case name whose upper-cased form
	// html.unescape leaves alone, that form mapped to the upper-cased value.
	name := ent[1 : len(ent)-1]
	if strings.ToUpper(name) != name {
		return ent
	}
	v, ok := html5Exact("&" + strings.ToLower(name) + ";")
	if !ok || unescapeNamed(ent) != ent {
		return ent
	}
	return pyUpper(v)
}

// html5Exact reports whether "&name;" is itself a key of Python's
// html.entities.html5 (the same WHATWG table as Go's html package) and
// returns its value. Go's UnescapeString returns the value alone for an
// exact key; a legacy-prefix match ("&ltx;" -> "<x;") leaves at least the
// rest of the name and the ';', so at least three characters.
func html5Exact(ent string) (string, bool) {
	u := unescapeNamed(ent)
	if u == ent || utf8.RuneCountInString(u) > 2 {
		return "", false
	}
	return u, true
}

// pyUpper is str.upper() for HTML entity values. Of the values whose
// all-caps entity ftfy accepts, these are the only ones whose full
// upper-case mapping (SpecialCasing.txt) differs from the simple one
// (checked against Python's html.entities.html5).
func pyUpper(s string) string {
	return mapRunes(strings.ToUpper(s), func(r rune) (string, bool) {
		switch r {
		case 'ß':
			return "SS", true
		case 'ﬀ':
			return "FF", true
		case 'ﬁ':
			return "FI", true
		case 'ﬂ':
			return "FL", true
		case 'ﬃ':
			return "FFI", true
		case 'ﬄ':
			return "FFL", true
		case 'ŉ':
			return "ʼN", true
		}
		return "", false
	})
}

// pyHTMLUnescape is Python's html.unescape: every match of
// &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?) is replaced.
// Named references are resolved with Go's html package, whose table (see
// unescapeNamed) and longest-legacy-prefix rule are the same; numeric ones follow Python's
// rules exactly (Go's differ for invalid code points and "&#9" at the end).
func pyHTMLUnescape(s string) string {
	if strings.IndexByte(s, '&') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for {
		k := strings.IndexByte(s[i:], '&')
		if k < 0 {
			b.WriteString(s[i:])
			return b.String()
		}
		k += i
		b.WriteString(s[i:k])
		rep, n, ok := pyCharref(s[k+1:])
		if !ok {
			b.WriteByte('&')
			i = k + 1
			continue
		}
		b.WriteString(rep)
		i = k + 1 + n
	}
}

// pyCharref matches one reference after '&' and returns its replacement and
// the length consumed.
func pyCharref(s string) (string, int, bool) {
	if s == "" {
		return "", 0, false
	}
	if s[0] == '#' {
		j, base := 1, 10
		if len(s) > 2 && (s[1] == 'x' || s[1] == 'X') && isHexDigit(s[2]) {
			j, base = 2, 16
		} else if len(s) < 2 || s[1] < '0' || s[1] > '9' {
			return "", 0, false
		}
		num := 0
		for j < len(s) && (base == 16 && isHexDigit(s[j]) || base == 10 && s[j] >= '0' && s[j] <= '9') {
			if num <= 0x10ffff { // saturate: anything larger is out of range anyway
				num = num*base + hexVal(s[j])
			}
			j++
		}
		if j < len(s) && s[j] == ';' {
			j++
		}
		return pyNumericCharref(num), j, true
	}
	// Named: up to 32 characters other than \t \n \f space < & # ;
	j, n := 0, 0
	for j < len(s) && n < 32 {
		r, sz := utf8.DecodeRuneInString(s[j:])
		if strings.ContainsRune("\t\n\f <&#;", r) {
			break
		}
		j += sz
		n++
	}
	if n == 0 {
		return "", 0, false
	}
	if j < len(s) && s[j] == ';' {
		j++
	}
	return unescapeNamed("&" + s[:j]), j, true
}

// unescapeNamed resolves "&name..." with Go's html package. Its table is
// Python's html.entities.html5 less the two entities whose value is longer
// than their name (Go skips them), which are added back here.
func unescapeNamed(ent string) string {
	switch ent {
	case "&nLt;":
		return "\u226a\u20d2"
	case "&nGt;":
		return "\u226b\u20d2"
	}
	return html.UnescapeString(ent)
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}

// pyNumericCharref is html._replace_charref for a number.
func pyNumericCharref(num int) string {
	switch {
	case num == 0:
		return "\ufffd"
	case num == 0x0d:
		return "\r"
	case num >= 0x80 && num <= 0x9f:
		return string(cp1252C1[num-0x80])
	case num >= 0xd800 && num <= 0xdfff, num > 0x10ffff:
		return "\ufffd"
	case num >= 0x1 && num <= 0x8, num == 0xb, num >= 0xe && num <= 0x1f, num == 0x7f,
		num >= 0xfdd0 && num <= 0xfdef, num&0xfffe == 0xfffe:
		// html._invalid_codepoints: dropped.
		return ""
	}
	return string(rune(num))
}
