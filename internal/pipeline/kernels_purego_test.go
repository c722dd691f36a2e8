//go:build purego

package pipeline

// portableKernels reports whether the tests run on the portable Go kernels
// (-tags purego), which are several times slower than the assembly ones.
const portableKernels = true
