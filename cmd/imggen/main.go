// Command imggen generates images from text prompts with Stable Diffusion
// 1.x checkpoints, in pure Go.
//
// Exit codes: 0 success, 1 failure (model load, I/O, generation, or any
// prompt of a batch failing), 2 usage error (detected before the model is
// loaded), 130 interrupted (SIGINT/SIGTERM).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"
)

// Exit codes; see the package comment and README.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130 // 128 + SIGINT, what shells report for Ctrl-C
)

func main() {
	// The heap is mostly large float32 activations, which hold no
	// pointers, so a collection costs little. The live heap includes the
	// pooled scratch buffers (internal/reuse), about 0.3 GB for a 512x512
	// SD 1.5 image, so collecting at 1.2x it rather than 2x keeps that
	// image's peak at 2.4 GB, not 2.6-2.8 GB (measured with `imggen
	// bench`), at no measurable cost in time. GOGC still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(20)
	}
	exitOnInterrupt = true
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitOnInterrupt makes the process exit soon after the first signal even
// when a long step has not returned yet (main sets it; in-process tests
// wait for the run instead).
var exitOnInterrupt bool

// interruptGrace is how long the first signal waits for the run to stop by
// itself (between two steps) before the process exits anyway.
const interruptGrace = 500 * time.Millisecond

// fileWrites is held (read-locked) while an output file is written, so
// that an exit on interrupt never leaves a partial or temporary file.
var fileWrites sync.RWMutex

// run is the whole program minus os.Exit, so tests can drive it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal cancels ctx (generation stops between steps and
	// cleans up); restoring the default handlers lets a second one kill the
	// process at once.
	go func() {
		<-ctx.Done()
		stop()
		if exitOnInterrupt {
			// Nothing of a run needs cleaning up but a file being written:
			// wait for it, then go, even in the middle of a long U-Net call.
			time.AfterFunc(interruptGrace, func() {
				fileWrites.Lock()
				fmt.Fprintln(stderr, "imggen: interrupted")
				os.Exit(exitInterrupted)
			})
		}
	}()
	return newApp(stdin, stdout, stderr).run(ctx, args)
}

// usageError marks errors that exit with code 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// errReported means the failure was already reported on stderr (a batch
// with failed prompts); only the exit code is left to set.
var errReported = errors.New("failures reported")

// exitCode maps an error from a command to the process exit code and, if
// it was not reported yet, reports it on stderr.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "imggen: interrupted")
		return exitInterrupted
	case errors.Is(err, errReported):
		return exitFailure
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "imggen: %v\nRun 'imggen --help' for usage.\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "imggen: %v\n", err)
	return exitFailure
}

// isTerminal reports whether w is a terminal; buffers in tests are not.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
