package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws one image's sampling progress on stderr. It is only
// enabled when stderr is a terminal: progressbar does not check, and in a
// log file its \r redraws become endless lines.
type progress struct {
	w    io.Writer
	desc string
	bar  *progressbar.ProgressBar
}

// newProgress returns nil (a no-op) when progress is not shown.
func (a *app) newProgress(o *genOptions, prefix string) *progress {
	if !a.progress || o.quiet {
		return nil
	}
	return &progress{w: a.stderr, desc: prefix + "sampling"}
}

// update is the pipeline's progress callback; the bar is made on the first
// call, when the step count is known.
func (p *progress) update(step, total int) {
	if p == nil || total < 1 {
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.desc),
			progressbar.OptionSetWidth(30),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		)
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
