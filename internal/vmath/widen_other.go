//go:build purego || !amd64

package vmath

const hasF16C = false

func widenF16C(dst *float32, src *uint16, n int) { panic("vmath: no F16C") }
