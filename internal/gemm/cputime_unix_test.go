//go:build unix

package gemm

import "syscall"

// cpuSeconds is the CPU time (user+system) of the process so far. The
// machines here are shared, so GFLOPS per CPU-second shows the code's own
// speed better than wall time, which includes time spent preempted.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
