package refcheck

import "testing"

// SkipOnPortable skips a reference run in the portable build (-tags purego)
// unless keep says it is one of those kept for it. This is the one skip
// rule of the suite: it follows the build tag, not the kernels the CPU
// happens to run, so a default build checks every run on any CPU (with
// IMGGEN_GEMM=go too), and the portable build always checks the same
// subset: at least one run of each sampler family, end to end.
func SkipOnPortable(t testing.TB, keep bool) {
	t.Helper()
	if Portable && !keep {
		t.Skip("portable build: this run's code is checked end to end by the assembly build")
	}
}
