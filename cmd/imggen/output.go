package main

import (
	"fmt"
	"path/filepath"
	"strings"
)

// outputPattern is a parsed -o value: a path that may hold one printf
// integer verb (%d, %4d, %04d, ...) for the image's 1-based number in the
// run; %% is a literal percent sign.
type outputPattern struct {
	before, after string // literal text around the verb (%% already undone)
	verb          string // e.g. "%04d"; "" if none
}

// parseOutput checks an -o value: at most one integer verb, no other verbs,
// and a .png extension (imggen writes PNG only).
func parseOutput(s string) (outputPattern, error) {
	var p outputPattern
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '%' {
			lit.WriteByte('%')
			i++
			continue
		}
		// %[flags][width]d with the flags that make sense for a number.
		j := i + 1
		for j < len(s) && strings.IndexByte("0-+ ", s[j]) >= 0 {
			j++
		}
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j >= len(s) || s[j] != 'd' {
			return p, fmt.Errorf("-o %q: only an integer verb like %%04d is allowed (write %%%% for a literal %%)", s)
		}
		if p.verb != "" {
			return p, fmt.Errorf("-o %q: more than one %%d verb", s)
		}
		p.verb = s[i : j+1]
		p.before = lit.String()
		lit.Reset()
		i = j
	}
	if p.verb == "" {
		p.before = lit.String()
	} else {
		p.after = lit.String()
	}
	sample := p.path(1, 1)
	if strings.HasSuffix(sample, "/") || strings.HasSuffix(sample, string(filepath.Separator)) {
		return p, fmt.Errorf("-o %q names a directory; give a file name such as %s", s, filepath.Join(s, "%04d.png"))
	}
	if !strings.EqualFold(filepath.Ext(sample), ".png") {
		return p, fmt.Errorf("-o %q: the file name must end in .png (imggen writes PNG images)", s)
	}
	return p, nil
}

// path is the file name for image index (from 1) of total. Without a verb,
// a single image gets the name as given and several get -0001, -0002, ...
// before the extension.
func (p outputPattern) path(index, total int) string {
	if p.verb != "" {
		return p.before + fmt.Sprintf(p.verb, index) + p.after
	}
	if total <= 1 {
		return p.before
	}
	ext := filepath.Ext(p.before)
	return fmt.Sprintf("%s-%04d%s", strings.TrimSuffix(p.before, ext), index, ext)
}
