package pipeline

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Parameters is an infotext read back: the prompt, the negative prompt and
// the "key: value" settings of the last line, in order.
type Parameters struct {
	Prompt         string      `json:"prompt"`
	NegativePrompt string      `json:"negative_prompt"`
	NegativeGiven  bool        `json:"negative_given"` // a "Negative prompt:" line, even an empty one
	Settings       [][2]string `json:"settings"`
}

// Get returns the value of a setting and whether it is there.
func (p Parameters) Get(key string) (string, bool) {
	for _, kv := range p.Settings {
		if kv[0] == key {
			return kv[1], true
		}
	}
	return "", false
}

// ParseInfoText reads AUTOMATIC1111's "parameters" text, as imggen and
// AUTOMATIC1111 write it: the prompt (any number of lines), an optional
// "Negative prompt:" (any number of lines), and a last line of
// "key: value" settings separated by ", ", a value holding a separator
// written as a JSON string.
func ParseInfoText(text string) (Parameters, error) {
	var p Parameters
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "Steps: ") {
		return p, fmt.Errorf("no settings line (\"Steps: ...\") in the parameters")
	}
	settings, err := parseSettings(last)
	if err != nil {
		return p, err
	}
	p.Settings = settings
	var prompt, negative []string
	inNegative := false
	for _, l := range lines[:len(lines)-1] {
		if rest, ok := cutNegative(l); ok && !inNegative {
			inNegative = true
			l = rest
		}
		if inNegative {
			negative = append(negative, l)
		} else {
			prompt = append(prompt, l)
		}
	}
	p.Prompt, p.NegativePrompt, p.NegativeGiven = strings.Join(prompt, "\n"), strings.Join(negative, "\n"), inNegative
	return p, nil
}

// parseSettings splits "k: v, k: "v, w", ..." into pairs.
func parseSettings(line string) ([][2]string, error) {
	var out [][2]string
	for s := strings.TrimSpace(line); s != ""; {
		key, rest, ok := strings.Cut(s, ": ")
		if !ok {
			return nil, fmt.Errorf("setting %q has no value", s)
		}
		var value string
		if strings.HasPrefix(rest, `"`) {
			dec := json.NewDecoder(strings.NewReader(rest))
			if err := dec.Decode(&value); err != nil {
				return nil, fmt.Errorf("setting %q: bad quoted value: %v", key, err)
			}
			rest = rest[dec.InputOffset():]
		} else {
			end := strings.Index(rest, ", ")
			if end < 0 {
				end = len(rest)
			}
			value, rest = rest[:end], rest[end:]
		}
		out = append(out, [2]string{strings.TrimSpace(key), value})
		s = strings.TrimSpace(strings.TrimPrefix(rest, ","))
	}
	return out, nil
}

// cutNegative cuts the "Negative prompt: " label (without its space when
// the negative prompt is empty and the line was trimmed).
func cutNegative(l string) (string, bool) {
	if l == "Negative prompt:" {
		return "", true
	}
	return strings.CutPrefix(l, "Negative prompt: ")
}
