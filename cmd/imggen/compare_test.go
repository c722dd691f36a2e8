package main

import (
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pngout"
)

// writeTestPNG writes a 16x8 picture whose first n values are shifted by
// level.
func writeTestPNG(t *testing.T, path string, n, level int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 8))
	for i := range img.Pix {
		img.Pix[i] = uint8(i % 200)
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	for i, k := 0, 0; k < n; i++ {
		if i%4 != 3 {
			img.Pix[i] += uint8(level)
			k++
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := pngout.Write(path, img, ""); err != nil {
		t.Fatal(err)
	}
}

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	writeTestPNG(t, filepath.Join(dir, "golden", "a.png"), 0, 0)
	writeTestPNG(t, filepath.Join(dir, "golden", "b.png"), 0, 0)
	writeTestPNG(t, filepath.Join(dir, "same.png"), 0, 0)
	writeTestPNG(t, filepath.Join(dir, "one.png"), 3, 1) // 3 of 384 values, 1 level
	writeTestPNG(t, filepath.Join(dir, "two.png"), 3, 2) // 2 levels
	writeTestPNG(t, filepath.Join(dir, "out", "a.png"), 0, 0)
	writeTestPNG(t, filepath.Join(dir, "out", "b.png"), 3, 1)
	writeTestPNG(t, filepath.Join(dir, "partial", "a.png"), 0, 0)
	g := filepath.Join(dir, "golden", "a.png")
	p := func(n string) string { return filepath.Join(dir, n) }
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"identical", []string{p("same.png"), g}, exitOK, "identical: ok"},
		{"exact by default", []string{p("one.png"), g}, exitFailure, "3 of 384 values differ"},
		{"within tolerance", []string{"--max-diff", "1", "--max-fraction", "0.01", p("one.png"), g}, exitOK, ": ok"},
		{"too many values", []string{"--max-diff", "1", "--max-fraction", "0.005", p("one.png"), g}, exitFailure, "DIFFERS"},
		{"too far", []string{"--max-diff", "1", "--max-fraction", "0.01", p("two.png"), g}, exitFailure, "max 2 levels"},
		{"psnr", []string{"--max-diff", "9", "--max-fraction", "1", "--min-psnr", "99", p("one.png"), g}, exitFailure, "DIFFERS"},
		{"folders", []string{"--max-diff", "1", "--max-fraction", "0.01", p("out"), p("golden")}, exitOK, "b.png"},
		{"folders, exact", []string{p("out"), p("golden")}, exitFailure, "1 of 2 pictures differ"},
		{"missing picture", []string{p("partial"), p("golden")}, exitFailure, "missing"},
		{"missing file", []string{p("none.png"), g}, exitFailure, "missing"},
		{"file and folder", []string{g, p("golden")}, exitUsage, "a file with a file"},
		{"bad fraction", []string{"--max-fraction", "nan", g, g}, exitUsage, "--max-fraction"},
		{"diff of folders", []string{"--diff", p("d.png"), p("out"), p("golden")}, exitUsage, "--diff needs two files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runFake(t, runOpts{}, append([]string{"compare"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Errorf("exit %d (want %d), output %q %q lacks %q", r.code, tc.code, r.stdout, r.stderr, tc.want)
			}
		})
	}

	// --diff draws the differing values, amplified; --json gives a record.
	r := runFake(t, runOpts{}, "compare", "--json", "--diff", p("d.png"), p("one.png"), g)
	var rec compareRecord
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.MaxLevel != 1 || rec.ValuesDiffering != 3 || rec.OK || rec.PSNR == nil {
		t.Errorf("JSON %q: %+v %v", r.stdout, rec, err)
	}
	d, err := pngout.Load(p("d.png"))
	if err != nil {
		t.Fatal(err)
	}
	if px := d.(*image.RGBA).Pix; px[0] != 32 || px[4] != 0 {
		t.Errorf("diff picture starts %v, want the first value at 32 (1 level x 32), the second pixel black", px[:8])
	}
}
