//go:build purego || !amd64

package gemm

// Without assembly only the Go kernel exists.
const (
	hasAVX512 = false
	hasAVX2   = false
)

func microKernel(_ Impl, w, kc int, a []float32, rs, cs int, b []float32, bn int, c []float32, ldc int, load bool) {
	kernGo(w, kc, a, rs, cs, b, bn, c, ldc, load)
}

func microKernelCol(_ Impl, w, _, tiles, kc int, a []float32, rs, cs int, b []float32, bn int, c []float32, ldc int, load bool, _ prefetch) {
	for t := 0; t < tiles; t++ {
		kernGo(w, kc, a[t*mr*rs:], rs, cs, b, bn, c[t*mr*ldc:], ldc, load)
	}
}

func partialKernel(Impl, int, int) bool { return false }

// offsetKernel: without assembly an offset A is always packed.
func offsetKernel(Impl, int, int) bool { return false }

func microKernelColOff(_ Impl, w, _, tiles, kc int, a []float32, off []int, b []float32, bn int, c []float32, ldc int, load bool) {
	panic("gemm: no offset kernel in this build")
}

const hasBF16 = false

func bf16Kernel() bool { return false }

func kernBF16Asm(tiles, kc int, a []uint32, off []int, b []uint32, bn int, c []float32, ldc int, load bool) {
	panic("gemm: no bfloat16 kernel in this build")
}
