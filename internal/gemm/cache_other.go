//go:build !linux

package gemm

// l1DataBytes is unknown off Linux: the blocking keeps its 32 KiB sizes.
func l1DataBytes() int { return 0 }
