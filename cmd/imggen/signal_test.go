//go:build unix

package main

import (
	"bufio"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run the real program (main, with os.Exit) as a
// child process: the test binary runs main when IMGGEN_TEST_MAIN is 1.
func TestMain(m *testing.M) {
	if os.Getenv("IMGGEN_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestInterruptExitsQuickly: SIGTERM or SIGINT during a large run (one
// 1024x1024 step of the built-in model takes many seconds on two cores)
// ends the process with 130 within 2 s, at load and in the middle of a
// step, and leaves no file, partial or temporary.
func TestInterruptExitsQuickly(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sig   syscall.Signal
		after string        // send the signal once stderr shows this
		delay time.Duration // and this much later (inside the first U-Net call)
	}{
		{"SIGTERM while loading", syscall.SIGTERM, "loading model", 0},
		{"SIGINT as generation starts", syscall.SIGINT, "seed 1", 0},
		{"SIGTERM inside a step", syscall.SIGTERM, "seed 1", time.Duration(1000+rand.IntN(1500)) * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "a red boat", "-W", "1024", "-H", "1024", "--steps", "4", "--batch-count", "2",
				"--seed", "1", "-o", filepath.Join(dir, "boat.png"))
			cmd.Env = append(os.Environ(), "IMGGEN_TEST_MAIN=1", "IMGGEN_MODEL=")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(stderr)
			for lines.Scan() {
				if strings.Contains(lines.Text(), tc.after) {
					break
				}
			}
			time.Sleep(tc.delay) // a moment inside a long call: what the test is about
			sent := time.Now()
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			go func() {
				for lines.Scan() {
				}
			}()
			err = cmd.Wait()
			took := time.Since(sent)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted || took > 2*time.Second {
				t.Errorf("exit %v after %v, want %d within 2s", err, took, exitInterrupted)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("files left: %v", left)
			}
		})
	}
}
