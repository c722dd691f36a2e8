//go:build !purego && amd64

package vmath

import "golang.org/x/sys/cpu"

// hasF16C: VCVTPH2PS converts 8 halves per instruction, several times the
// speed of the bit manipulation above.
var hasF16C = cpu.X86.HasAVX && cpu.X86.HasF16C

//go:noescape
func widenF16C(dst *float32, src *uint16, n int)
