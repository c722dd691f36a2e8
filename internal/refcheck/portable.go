//go:build purego

package refcheck

// Portable reports whether this build runs the portable Go kernels
// (-tags purego), several times slower than the assembly ones.
const Portable = true
