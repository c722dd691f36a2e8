package worldeval

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/imggen/imggen/internal/judge"
	"github.com/imggen/imggen/internal/model"
	"github.com/imggen/imggen/internal/pipeline"
	"github.com/imggen/imggen/internal/world"
	"github.com/imggen/imggen/weights"
)

// judgeCIPrompts is the fixed held-out set of the CI judge test.
const (
	judgeCIPrompts = 12
	judgeCISeed    = 20261126
)

// TestBuiltinModelJudge generates one image for each of 12 fixed held-out
// prompts with the built-in model at imggen's defaults (dpmpp_2m, karras,
// 20 steps, cfg 7.5) and asks the judge: the time of day must be right in
// at least 10 of 12 and the object colour in at least 8 of 12.
func TestBuiltinModelJudge(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 12 images with the built-in model")
	}
	start := time.Now()
	m, err := model.LoadFS(weights.FS(), weights.Name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(m)
	if err != nil {
		t.Fatal(err)
	}
	base, err := BaseRequest(p, DefaultSampler, DefaultSteps, false)
	if err != nil {
		t.Fatal(err)
	}
	gen := PipelineGenerator(context.Background(), p, base)

	type tally struct{ ok, asked int }
	got := map[string]*tally{}
	var rows []string
	for i, ep := range world.EvalPrompts(judgeCIPrompts, judgeCISeed) {
		img, err := gen(ep.Prompt, PromptSeed(i), DefaultCFG)
		if err != nil {
			t.Fatal(err)
		}
		r := judge.Judge(img, ep.Prompt)
		var seen []string
		for _, c := range r.Checks {
			if got[c.Attr] == nil {
				got[c.Attr] = &tally{}
			}
			got[c.Attr].asked++
			mark := "ok"
			if c.OK {
				got[c.Attr].ok++
			} else {
				mark = "asked " + c.Asked
			}
			seen = append(seen, fmt.Sprintf("%s=%s (%s)", c.Attr, c.Seen, mark))
		}
		rows = append(rows, fmt.Sprintf("%2d %q: %s", i, ep.Prompt, strings.Join(seen, ", ")))
	}
	for _, r := range rows {
		t.Log(r)
	}
	t.Logf("%-9s %s", "attribute", "ok/asked")
	for _, a := range Attrs {
		if s := got[a]; s != nil {
			t.Logf("%-9s %d/%d", a, s.ok, s.asked)
		}
	}
	t.Logf("%d images in %s", judgeCIPrompts, time.Since(start).Round(time.Millisecond))

	for _, c := range []struct {
		attr string
		min  int
	}{{"time", 10}, {"colour", 8}} {
		s := got[c.attr]
		if s == nil || s.asked != judgeCIPrompts {
			t.Fatalf("%s asked %v times, want %d (every eval prompt names it)", c.attr, s, judgeCIPrompts)
		}
		if s.ok < c.min {
			t.Errorf("%s right in %d/%d images, want at least %d", c.attr, s.ok, s.asked, c.min)
		}
	}
}
