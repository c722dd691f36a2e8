//go:build unix && !linux

package bench

import (
	"runtime"
	"syscall"
)

// memory returns the peak resident set size (getrusage's ru_maxrss, in
// bytes on Darwin and kilobytes elsewhere); the current size is unknown.
func memory() (rss, peak int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	if runtime.GOOS == "darwin" {
		return 0, int64(ru.Maxrss)
	}
	return 0, int64(ru.Maxrss) << 10
}
