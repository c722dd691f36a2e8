package model

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// A reader for the subset of YAML that LDM config files (v1-inference.yaml
// and friends) use: block mappings and sequences by indentation, "- key: v"
// items, plain or quoted scalars, flow lists of scalars and comments. It
// exists so a checkpoint's sidecar .yaml can supply the few numbers that the
// tensor shapes cannot (the UNet head count), without a YAML dependency.
// Values are map[string]any, []any, string, or nil.

const (
	yamlMaxBytes = 1 << 20 // LDM configs are a few kilobytes
	yamlMaxDepth = 64
)

type yamlLine struct {
	indent int
	text   string
	num    int
}

type yamlParser struct {
	lines []yamlLine
	i     int
}

func parseYAML(src []byte) (map[string]any, error) {
	if len(src) > yamlMaxBytes {
		return nil, fmt.Errorf("yaml: %d bytes is too large for a model config", len(src))
	}
	var lines []yamlLine
	for n, raw := range strings.Split(string(src), "\n") {
		raw = strings.TrimRight(raw, "\r")
		text := strings.TrimLeft(raw, " ")
		indent := len(raw) - len(text)
		if strings.HasPrefix(text, "\t") {
			return nil, fmt.Errorf("yaml line %d: tab indentation", n+1)
		}
		text = strings.TrimSpace(stripComment(text))
		if text == "" || text == "---" || text == "..." {
			continue
		}
		lines = append(lines, yamlLine{indent: indent, text: text, num: n + 1})
	}
	if len(lines) == 0 {
		return map[string]any{}, nil
	}
	p := &yamlParser{lines: lines}
	v, err := p.block(lines[0].indent, 0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.lines) {
		return nil, fmt.Errorf("yaml line %d: unexpected indentation", p.lines[p.i].num)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("yaml: top level is not a mapping")
	}
	return m, nil
}

// stripComment drops a "#" comment that is not inside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '#' && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

func isSeqItem(text string) bool { return text == "-" || strings.HasPrefix(text, "- ") }

func (p *yamlParser) block(indent, depth int) (any, error) {
	if depth > yamlMaxDepth {
		return nil, fmt.Errorf("yaml line %d: nested too deeply", p.lines[p.i].num)
	}
	if isSeqItem(p.lines[p.i].text) {
		return p.seq(indent, depth)
	}
	return p.mapping(indent, depth)
}

func (p *yamlParser) mapping(indent, depth int) (map[string]any, error) {
	m := map[string]any{}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent || (l.indent == indent && isSeqItem(l.text)) {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("yaml line %d: unexpected indentation", l.num)
		}
		key, rest, ok := splitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("yaml line %d: expected \"key: value\"", l.num)
		}
		p.i++
		if rest != "" {
			v, err := yamlScalar(rest, l.num)
			if err != nil {
				return nil, err
			}
			m[key] = v
			continue
		}
		var v any
		if p.i < len(p.lines) {
			next := p.lines[p.i]
			var err error
			switch {
			case next.indent > indent:
				v, err = p.block(next.indent, depth+1)
			case next.indent == indent && isSeqItem(next.text):
				// "key:" followed by "- item" at the key's own indentation.
				v, err = p.seq(indent, depth+1)
			}
			if err != nil {
				return nil, err
			}
		}
		m[key] = v
	}
	return m, nil
}

func (p *yamlParser) seq(indent, depth int) ([]any, error) {
	var out []any
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		if l.indent < indent || (l.indent == indent && !isSeqItem(l.text)) {
			break
		}
		if l.indent > indent {
			return nil, fmt.Errorf("yaml line %d: unexpected indentation", l.num)
		}
		rest := strings.TrimLeft(l.text[1:], " ")
		if rest == "" {
			p.i++
			var v any
			if p.i < len(p.lines) && p.lines[p.i].indent > indent {
				var err error
				if v, err = p.block(p.lines[p.i].indent, depth+1); err != nil {
					return nil, err
				}
			}
			out = append(out, v)
			continue
		}
		if _, _, ok := splitKey(rest); ok {
			// "- key: v": a mapping whose keys sit at the column after "- ".
			col := indent + len(l.text) - len(rest)
			p.lines[p.i] = yamlLine{indent: col, text: rest, num: l.num}
			v, err := p.mapping(col, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		v, err := yamlScalar(rest, l.num)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.i++
	}
	return out, nil
}

// splitKey splits "key: value" (or "key:") at the first colon that is
// followed by a space or the end of the line, outside quotes.
func splitKey(s string) (key, rest string, ok bool) {
	if s == "" || s[0] == '[' || s[0] == '{' {
		return "", "", false
	}
	start := 0
	if s[0] == '"' || s[0] == '\'' {
		end := strings.IndexByte(s[1:], s[0])
		if end < 0 {
			return "", "", false
		}
		start = end + 2
	}
	for i := start; i < len(s); i++ {
		if s[i] == ':' && (i+1 == len(s) || s[i+1] == ' ') {
			return unquote(strings.TrimSpace(s[:i])), strings.TrimSpace(s[i+1:]), true
		}
	}
	return "", "", false
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func yamlScalar(s string, line int) (any, error) {
	switch {
	case s == "~" || s == "null":
		return nil, nil
	case s == "{}":
		return map[string]any{}, nil
	case strings.HasPrefix(s, "["):
		if !strings.HasSuffix(s, "]") || strings.ContainsAny(s[1:len(s)-1], "[]{}") {
			return nil, fmt.Errorf("yaml line %d: only flat flow lists are supported", line)
		}
		var out []any
		if inner := strings.TrimSpace(s[1 : len(s)-1]); inner != "" {
			for _, item := range strings.Split(inner, ",") {
				out = append(out, unquote(strings.TrimSpace(item)))
			}
		}
		return out, nil
	case strings.HasPrefix(s, "{"), strings.HasPrefix(s, "&"), strings.HasPrefix(s, "*"), strings.HasPrefix(s, "|"), strings.HasPrefix(s, ">"):
		return nil, fmt.Errorf("yaml line %d: unsupported YAML syntax %q", line, s)
	}
	return unquote(s), nil
}

// yamlGet follows a path of mapping keys.
func yamlGet(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// ldmConfig is what a sidecar LDM .yaml tells that the shapes cannot.
type ldmConfig struct {
	path         string
	unetHeads    int     // unet_config num_heads (SD 1.x), 0 when absent or -1
	headChannels int     // num_head_channels (SD 2.x style), 0 when absent or -1
	linear       bool    // use_linear_in_transformer (SD 2.x)
	vPrediction  bool    // parameterization: v (SD 2.x)
	openCLIP     bool    // cond_stage_config target is OpenCLIP (SD 2.x)
	scaleFactor  float64 // scale_factor, 0 when absent
	linearStart  float64 // linear_start (beta_start), 0 when absent
	linearEnd    float64 // linear_end (beta_end), 0 when absent
}

// sidecarYAML finds "<name>.yaml" beside the checkpoint, trying the name
// with one further extension removed too (sd1-tiny.fp16.safetensors ->
// sd1-tiny.fp16.yaml, sd1-tiny.yaml). No sidecar is not an error.
func sidecarYAML(path string) (*ldmConfig, error) {
	base := strings.TrimSuffix(path, filepath.Ext(path))
	var candidates []string
	for i := 0; i < 2; i++ {
		candidates = append(candidates, base+".yaml", base+".yml")
		ext := filepath.Ext(base)
		if ext == "" {
			break
		}
		base = strings.TrimSuffix(base, ext)
	}
	for _, c := range candidates {
		if !exists(c) {
			continue
		}
		b, err := readSmall(c)
		if err != nil {
			return nil, err
		}
		cfg, err := readLDMConfig(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c, err)
		}
		cfg.path = c
		return cfg, nil
	}
	return nil, nil
}

func readLDMConfig(b []byte) (*ldmConfig, error) {
	y, err := parseYAML(b)
	if err != nil {
		return nil, err
	}
	params := yamlGet(y, "model", "params")
	unetParams := yamlGet(params, "unet_config", "params")
	if unetParams == nil { // SDXL's generative-models (sgm) layout
		unetParams = yamlGet(params, "network_config", "params")
	}
	cfg := &ldmConfig{}
	if cfg.unetHeads, err = yamlInt(unetParams, "num_heads"); err != nil {
		return nil, err
	}
	if cfg.headChannels, err = yamlInt(unetParams, "num_head_channels"); err != nil {
		return nil, err
	}
	cfg.linear = yamlGet(unetParams, "use_linear_in_transformer") == "true"
	cfg.vPrediction = yamlGet(params, "parameterization") == "v"
	target, _ := yamlGet(params, "cond_stage_config", "target").(string)
	cfg.openCLIP = strings.Contains(target, "OpenCLIP")
	if s, ok := yamlGet(params, "scale_factor").(string); ok {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("model.params.scale_factor %q is not a positive number", s)
		}
		cfg.scaleFactor = f
	}
	for _, p := range []struct {
		key string
		dst *float64
	}{{"linear_start", &cfg.linearStart}, {"linear_end", &cfg.linearEnd}} {
		if s, ok := yamlGet(params, p.key).(string); ok {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f <= 0 || f >= 1 {
				return nil, fmt.Errorf("model.params.%s %q is not a number in (0, 1)", p.key, s)
			}
			*p.dst = f
		}
	}
	return cfg, nil
}

// yamlInt reads an integer field of a mapping; absent or -1 (LDM's "unset")
// give 0.
func yamlInt(m any, key string) (int, error) {
	v := yamlGet(m, key)
	if v == nil {
		return 0, nil
	}
	s, ok := v.(string)
	n, err := strconv.Atoi(s)
	if !ok || err != nil || n < -1 || n > 1<<20 {
		return 0, fmt.Errorf("%s: %v is not a count", key, v)
	}
	if n < 0 {
		return 0, nil
	}
	return n, nil
}
