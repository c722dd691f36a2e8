package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxPromptsFile bounds what --prompts reads; real prompt files are tiny.
const maxPromptsFile = 64 << 20

// readPrompts parses a prompt file: one prompt per line, surrounding
// whitespace trimmed, empty lines and lines starting with '#' skipped.
// A line that is not valid UTF-8 becomes a job with err set, so it is
// reported in order with its line number while the rest still run. It
// fails only when the input cannot be read or holds no prompt at all.
func readPrompts(r io.Reader) ([]job, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPromptsFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPromptsFile {
		return nil, fmt.Errorf("larger than %d MiB", maxPromptsFile>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // editors on Windows add a BOM
	var jobs []job
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw)) // also drops the \r of CRLF
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		j := job{line: i + 1, prompt: line}
		if !utf8.ValidString(line) {
			j.prompt = strings.ToValidUTF8(line, "\uFFFD")
			j.err = errors.New("prompt is not valid UTF-8")
		}
		jobs = append(jobs, j)
	}
	if len(jobs) == 0 {
		return nil, errors.New("no prompts (every line is empty or a # comment)")
	}
	return jobs, nil
}
