package main

import "testing"

// skipOnPortableKernels skips a reference run on the portable kernels
// (-tags purego) unless it is one of those kept for them: a few runs check
// the portable kernels end to end, while the other runs' samplers,
// schedules and options are the same Go code on either kernel set and are
// checked by the assembly build.
func skipOnPortableKernels(t *testing.T, skip bool) {
	t.Helper()
	if portableKernels && skip {
		t.Skip("portable kernels: this run's code is checked by the assembly build")
	}
}
