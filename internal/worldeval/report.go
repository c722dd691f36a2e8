package worldeval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/imggen/imggen/internal/world"
)

// Markdown writes the report's tables.
func (r *Result) Markdown(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	p("# World evaluation\n\n")
	if len(r.Settings) > 0 {
		p("| setting | value |\n|---|---|\n")
		for _, k := range sortedKeys(r.Settings) {
			p("| %s | %s |\n", k, r.Settings[k])
		}
		p("\n")
	}
	p("Prompts: `world.EvalPrompts(%d, %d)`, held-out (time, kind, colour) combinations never seen in training; "+
		"prompt i uses seed %d+i (its diversity seeds add k x 1000000). Images are judged by `judge.Judge`.\n\n", r.N, r.PromptSeed, PromptSeed(0))

	p("## Prompt adherence\n\n")
	p("Judge accuracy per attribute over the prompts that ask for it (ok/asked), and the share of images with every asked attribute right.\n\n")
	p("| attribute |")
	for _, a := range r.Adherence {
		p(" cfg %s |", FormatCFG(a.CFG))
	}
	p("\n|---|")
	for range r.Adherence {
		p("---:|")
	}
	p("\n")
	if len(r.Adherence) > 0 {
		for _, s := range r.Adherence[0].Attrs {
			p("| %s |", s.Attr)
			for _, a := range r.Adherence {
				s := a.Attr(s.Attr)
				if s.Asked == 0 {
					p(" - |")
					continue
				}
				p(" %.1f%% (%d/%d) |", 100*s.Accuracy, s.OK, s.Asked)
			}
			p("\n")
		}
		p("| **all accepted** |")
		for _, a := range r.Adherence {
			p(" **%.1f%%** (%d/%d) |", 100*a.AcceptedShare, a.Accepted, a.Images)
		}
		p("\n\n")
	}
	for _, a := range r.Adherence {
		if a.CFG != r.DefaultCFG {
			continue
		}
		for _, attr := range ConfusionAttrs {
			if len(a.Confusion[attr]) > 0 {
				confusion(p, attr, a.CFG, a.Confusion[attr])
			}
		}
	}

	p("## Diversity\n\n")
	p("Pixel distance between images of the same prompt across seeds: the mean absolute difference of R, G, B (0..255) " +
		"over every pair of seeds of every prompt (RMS difference beside it); the first prompts of the adherence set. " +
		"Higher is more varied.\n\n")
	p("| cfg | prompts | seeds | pairs | mean abs diff | RMS diff | accepted (adherence) |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, d := range r.Diversity {
		acc := "-"
		if i < len(r.Adherence) {
			acc = fmt.Sprintf("%.1f%%", 100*r.Adherence[i].AcceptedShare)
		}
		p("| %s | %d | %d | %d | %.2f | %.2f | %s |\n", FormatCFG(d.CFG), d.Prompts, d.Seeds, d.Pairs, d.MeanAbs, d.RMS, acc)
	}
	p("\n")

	p("## Realism\n\n")
	p("Fréchet distance between `judge.Features` of %d images and of %d rendered held-out scenes "+
		"(`world.RandomHeldOut` + `world.Render`, set A); lower is closer. The last row is the floor: "+
		"two disjoint rendered sets of the same size.\n\n", r.Realism.Images, r.Realism.Images)
	p("| images | vs rendered set A |\n|---|---:|\n")
	p("| generated, cfg %s (default) | %.4f |\n", FormatCFG(r.Realism.DefaultCFG), r.Realism.GeneratedVsRender)
	for _, cfg := range r.CFGs {
		if cfg != r.Realism.DefaultCFG {
			p("| generated, cfg %s | %.4f |\n", FormatCFG(cfg), r.Realism.ByCFG[FormatCFG(cfg)])
		}
	}
	p("| rendered set B (floor) | %.4f |\n", r.Realism.RenderVsRender)
	p("\n")

	p("## Contact sheet\n\n")
	p("`contact.png`: %d rows (prompts) x %d columns (seeds) at cfg %s.\n\n", len(r.Contact), r.ContactCols, FormatCFG(r.DefaultCFG))
	p("| row | prompt | seeds | accepted |\n|---:|---|---|---:|\n")
	for i, c := range r.Contact {
		seeds := make([]string, len(c.Seeds))
		for j, s := range c.Seeds {
			seeds[j] = fmt.Sprint(s)
		}
		p("| %d | %s | %s | %d/%d |\n", i+1, c.Prompt, strings.Join(seeds, ", "), c.Accepted, len(c.Seeds))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// confusion writes the table of one attribute's checks: rows asked,
// columns seen, the attribute's vocabulary first, then anything else seen.
func confusion(p func(string, ...any), attr string, cfg float64, m map[string]map[string]int) {
	vocab := map[string][]string{"time": world.Times, "style": world.Styles}[attr]
	var asked, seen []string
	for _, v := range vocab {
		if m[v] != nil {
			asked = append(asked, v)
		}
		seen = append(seen, v)
	}
	for _, k := range sortedKeys(m) {
		if !contains(asked, k) {
			asked = append(asked, k)
		}
		for _, s := range sortedKeys(m[k]) {
			if !contains(seen, s) {
				seen = append(seen, s)
			}
		}
	}
	p("%s at cfg %s (rows: asked, columns: what the judge saw):\n\n", attr, FormatCFG(cfg))
	p("| asked \\ seen |")
	for _, s := range seen {
		p(" %s |", s)
	}
	p("\n|---|")
	for range seen {
		p("---:|")
	}
	p("\n")
	for _, a := range asked {
		p("| %s |", a)
		for _, s := range seen {
			p(" %d |", m[a][s])
		}
		p("\n")
	}
	p("\n")
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// JSON writes the raw numbers (every adherence image's checks included).
func (r *Result) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteDir writes report.md, report.json and contact.png into dir
// (created if missing).
func (r *Result) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md, js, sheet bytes.Buffer
	if err := r.Markdown(&md); err != nil {
		return err
	}
	if err := r.JSON(&js); err != nil {
		return err
	}
	if r.ContactSheet != nil {
		if err := png.Encode(&sheet, r.ContactSheet); err != nil {
			return err
		}
	}
	for name, data := range map[string][]byte{"report.md": md.Bytes(), "report.json": js.Bytes(), "contact.png": sheet.Bytes()} {
		if name == "contact.png" && r.ContactSheet == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
