package main

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadPrompts(t *testing.T) {
	type line struct {
		n      int
		prompt string
		bad    bool
	}
	tests := []struct {
		name, in string
		want     []line
	}{
		{"plain", "a\nb\n", []line{{1, "a", false}, {2, "b", false}}},
		{"no final newline", "a\nb", []line{{1, "a", false}, {2, "b", false}}},
		{"comments and blanks", "# header\n\n  \na castle\n  # indented comment\nsunset, oil painting\n",
			[]line{{4, "a castle", false}, {6, "sunset, oil painting", false}}},
		{"crlf and bom", "\uFEFFa\r\n\r\nb\r\n", []line{{1, "a", false}, {3, "b", false}}},
		{"trimmed", "  spaced out \t\n", []line{{1, "spaced out", false}}},
		{"hash inside", "issue #1\n", []line{{1, "issue #1", false}}},
		{"invalid utf8", "ok\nbad \xff\nok2\n", []line{{1, "ok", false}, {2, "bad \uFFFD", true}, {3, "ok2", false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jobs, err := readPrompts(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(jobs) != len(tc.want) {
				t.Fatalf("got %d prompts, want %d: %+v", len(jobs), len(tc.want), jobs)
			}
			for i, w := range tc.want {
				j := jobs[i]
				if j.line != w.n || j.prompt != w.prompt || (j.err != nil) != w.bad {
					t.Errorf("prompt %d = {line %d, %q, err %v}, want {line %d, %q, bad %v}", i, j.line, j.prompt, j.err, w.n, w.prompt, w.bad)
				}
			}
		})
	}
}

func TestReadPromptsErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"only comments", "# a\n\n#b\n   \n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := readPrompts(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), "no prompts") {
				t.Errorf("err = %v, want no prompts", err)
			}
		})
	}
	boom := errors.New("boom")
	if _, err := readPrompts(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("read error: got %v", err)
	}
}
