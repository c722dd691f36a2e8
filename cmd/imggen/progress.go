package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress modes (--progress).
const (
	progressAuto  = "auto"  // a bar on a terminal, plain lines otherwise
	progressBar   = "bar"   // a redrawn bar (only sensible on a terminal)
	progressPlain = "plain" // one line per step, for logs
	progressNone  = "none"
)

// progress reports one image's sampling on stderr: a bar redrawn in place
// on a terminal, or one line per step with the elapsed time and an
// estimate of the rest, which a CI log keeps readable.
type progress struct {
	w     io.Writer
	desc  string
	plain bool
	width int // terminal columns (bar)
	start time.Time
	bar   *progressbar.ProgressBar
}

// progressMode resolves --progress for this run.
func (a *app) progressMode(o *genOptions) string {
	switch {
	case o.quiet:
		return progressNone
	case o.progressFlag != progressAuto:
		return o.progressFlag
	case a.progress:
		return progressBar
	}
	return progressPlain
}

// newProgress returns nil (a no-op) when progress is not shown.
func (a *app) newProgress(o *genOptions, prefix string) *progress {
	mode := a.progressMode(o)
	if mode == progressNone {
		return nil
	}
	p := &progress{w: a.stderr, desc: prefix + "sampling", plain: mode == progressPlain, start: time.Now(), width: 80}
	if f, ok := a.stderr.(*os.File); ok {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			p.width = w
		}
	}
	return p
}

// update is the pipeline's progress callback.
func (p *progress) update(step, total int) {
	if p == nil || total < 1 {
		return
	}
	if p.plain {
		el := time.Since(p.start)
		eta := time.Duration(float64(el) / float64(step) * float64(total-step))
		fmt.Fprintf(p.w, "%s: step %d/%d, %s elapsed, about %s left\n", p.desc, step, total,
			el.Round(100*time.Millisecond), eta.Round(100*time.Millisecond))
		return
	}
	if p.bar == nil {
		// The bar with its count and times takes about 50 columns beside
		// the description; on a narrow terminal the extras go, so that a
		// redraw never wraps into one line per update.
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.desc),
			progressbar.OptionSetWidth(min(30, max(10, p.width-len(p.desc)-50))),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		}
		if p.width >= 60+len(p.desc) {
			opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(),
				progressbar.OptionSetElapsedTime(true), progressbar.OptionSetPredictTime(true))
		} else {
			opts = append(opts, progressbar.OptionSetElapsedTime(false), progressbar.OptionSetPredictTime(false))
		}
		p.bar = progressbar.NewOptions(total, opts...)
	}
	p.bar.ChangeMax(total)
	p.bar.Set(step)
}

// finish completes the bar (ok) or leaves it where it stopped.
func (p *progress) finish(ok bool) {
	if p == nil || p.bar == nil {
		return
	}
	if ok {
		if !p.bar.IsFinished() {
			p.bar.Finish()
		}
		return
	}
	p.bar.Exit()
}
