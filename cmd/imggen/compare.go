package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/imggen/imggen/internal/pngout"
)

// compareOptions are the flag values of imggen compare.
type compareOptions struct {
	maxDiff     int
	maxFraction float64
	minPSNR     float64
	diff        string
}

// compareRecord is one compared pair (the --json line).
type compareRecord struct {
	A               string   `json:"a"`
	B               string   `json:"b"`
	MaxLevel        int      `json:"max_level"`
	ValuesDiffering int      `json:"values_differing"`
	Values          int      `json:"values"`
	PSNR            *float64 `json:"psnr"` // null for identical pictures (infinite)
	OK              bool     `json:"ok"`
	Error           string   `json:"error,omitempty"`
}

const compareLong = `compare checks two PNGs (or two folders of PNGs, matched by file name)
against a tolerance, for golden-image tests in CI: the largest difference of
one 8-bit channel value (--max-diff, levels), the share of channel values
that differ (--max-fraction) and the PSNR over RGB (--min-psnr, dB). By
default the pictures must be identical. --diff writes a picture of where
they differ (each difference x32), for a single pair.

Exit codes: 0 every pair within the tolerance; 1 a pair outside it, a
missing or unreadable picture, or pictures of different sizes; 2 usage.`

func (a *app) compareCommand(o *genOptions) *cobra.Command {
	c := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare A B",
		Short: "Compare two PNGs (or folders of PNGs) within a tolerance, for golden-image tests",
		Long:  compareLong,
		Example: `  imggen compare out.png golden/out.png
  imggen compare --max-diff 1 --max-fraction 0.003 out/ golden/
  imggen compare --diff where.png out.png golden/out.png`,
		Args: argsN(2, 2, "two PNGs or two folders"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case c.maxDiff < 0 || c.maxDiff > 255:
				return usagef("--max-diff must be 0 to 255, got %d", c.maxDiff)
			case !(c.maxFraction >= 0 && c.maxFraction <= 1):
				return usagef("--max-fraction must be 0 to 1, got %g", c.maxFraction)
			case !(c.minPSNR >= 0 && c.minPSNR <= 1000):
				return usagef("--min-psnr must be 0 to 1000 dB, got %g", c.minPSNR)
			}
			return a.compare(o, c, args[0], args[1])
		},
	}
	f := cmd.Flags()
	f.IntVar(&c.maxDiff, "max-diff", 0, "largest accepted difference of one channel value, in levels")
	f.Float64Var(&c.maxFraction, "max-fraction", 0, "largest accepted share of channel values that differ (0.001 = 0.1%)")
	f.Float64Var(&c.minPSNR, "min-psnr", 0, "smallest accepted PSNR over RGB, in dB (0: not checked)")
	f.StringVar(&c.diff, "diff", "", "write a picture of the differences (x32) to this PNG (a single pair only)")
	return cmd
}

func (a *app) compare(o *genOptions, c *compareOptions, pathA, pathB string) error {
	pairs, err := comparePairs(pathA, pathB)
	if err != nil {
		return err
	}
	if c.diff != "" && len(pairs) != 1 {
		return usagef("--diff needs two files, not folders")
	}
	bad := 0
	for _, p := range pairs {
		rec := c.check(p[0], p[1])
		if !rec.OK {
			bad++
		}
		if o.json {
			a.writeJSON(rec)
		} else {
			fmt.Fprintln(a.stdout, rec.line())
		}
		if c.diff != "" && rec.Error == "" {
			if err := writeDiff(c.diff, p[0], p[1]); err != nil {
				return err
			}
		}
	}
	if bad > 0 {
		if len(pairs) > 1 {
			fmt.Fprintf(a.stderr, "imggen: %d of %d pictures differ\n", bad, len(pairs))
		}
		return errReported
	}
	return nil
}

// comparePairs matches A and B: two files, or the PNGs of two folders by
// name (a name in either folder only is a pair with a missing side).
func comparePairs(a, b string) ([][2]string, error) {
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil && sa.IsDir() != sb.IsDir() {
		return nil, usagef("compare a file with a file, or a folder with a folder")
	}
	if errA != nil || !sa.IsDir() {
		return [][2]string{{a, b}}, nil
	}
	names := map[string]bool{}
	for _, dir := range []string{a, b} {
		m, err := filepath.Glob(filepath.Join(dir, "*.png"))
		if err != nil {
			return nil, err
		}
		for _, p := range m {
			names[filepath.Base(p)] = true
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no PNG files in %s or %s", a, b)
	}
	var pairs [][2]string
	for n := range names {
		pairs = append(pairs, [2]string{filepath.Join(a, n), filepath.Join(b, n)})
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i][0] < pairs[j][0] })
	return pairs, nil
}

// check compares one pair against the tolerance.
func (c *compareOptions) check(a, b string) compareRecord {
	rec := compareRecord{A: a, B: b}
	d, err := comparePNGs(a, b)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("missing: %w", err)
		}
		rec.Error = err.Error()
		return rec
	}
	rec.MaxLevel, rec.ValuesDiffering, rec.Values = d.MaxLevel, d.ValuesDiffering, 3*d.Pixels
	if p := d.PSNR(); !math.IsInf(p, 1) {
		rec.PSNR = &p
	}
	rec.OK = d.MaxLevel <= c.maxDiff && d.ValueFraction() <= c.maxFraction && (c.minPSNR == 0 || d.PSNR() >= c.minPSNR)
	return rec
}

func comparePNGs(a, b string) (pngout.Diff, error) {
	ia, err := pngout.Load(a)
	if err != nil {
		return pngout.Diff{}, err
	}
	ib, err := pngout.Load(b)
	if err != nil {
		return pngout.Diff{}, err
	}
	return pngout.Compare(ia, ib)
}

func (r compareRecord) line() string {
	if r.Error != "" {
		return fmt.Sprintf("%s vs %s: error: %s", r.A, r.B, r.Error)
	}
	verdict := "ok"
	if !r.OK {
		verdict = "DIFFERS"
	}
	psnr := "identical"
	if r.PSNR != nil {
		psnr = fmt.Sprintf("PSNR %.1f dB", *r.PSNR)
	}
	return fmt.Sprintf("%s vs %s: max %d levels, %d of %d values differ (%.4f%%), %s: %s",
		r.A, r.B, r.MaxLevel, r.ValuesDiffering, r.Values, 100*float64(r.ValuesDiffering)/float64(max(r.Values, 1)), psnr, verdict)
}

// writeDiff writes the amplified difference picture of a and b.
func writeDiff(out, a, b string) error {
	ia, err := pngout.Load(a)
	if err != nil {
		return err
	}
	ib, err := pngout.Load(b)
	if err != nil {
		return err
	}
	return pngout.Write(out, pngout.DiffImage(ia, ib, 32), "imggen compare "+a+" "+b)
}
