//go:build !purego && amd64

package gemm

import "golang.org/x/sys/cpu"

// The assembly kernels (kernel_amd64.s); rs, cs, bn and ldc in elements.

//go:noescape
func kern6x32AVX512(kc int, a *float32, rs int, cs int, b *float32, bn int, c *float32, ldc int, flags int)

//go:noescape
func kern6x16AVX512(kc int, a *float32, rs int, cs int, b *float32, c *float32, ldc int, flags int)

//go:noescape
func kern6x16AVX2(kc int, a *float32, rs int, cs int, b *float32, c *float32, ldc int, flags int)

// hasAVX512 and hasAVX2 say which kernels this CPU (and OS, for the wide
// register state) can run.
var (
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// microKernel computes the 6 x w tile (w = 16 or 32) described in
// kernel_amd64.s with the kernel set im; for w = 32 the second 16 columns
// of B start at b[bn]. The caller guarantees that every address the kernel
// touches is inside the slices.
func microKernel(im Impl, w, kc int, a []float32, rs, cs int, b []float32, bn int, c []float32, ldc int, load bool) {
	flags := 0
	if load {
		flags = 1
	}
	switch {
	case im == ImplAVX512 && w == 32:
		kern6x32AVX512(kc, &a[0], rs, cs, &b[0], bn, &c[0], ldc, flags)
	case im == ImplAVX512:
		kern6x16AVX512(kc, &a[0], rs, cs, &b[0], &c[0], ldc, flags)
	case im == ImplAVX2 && w == 32:
		// Two 16-column halves; each element still sees the same chain.
		kern6x16AVX2(kc, &a[0], rs, cs, &b[0], &c[0], ldc, flags)
		kern6x16AVX2(kc, &a[0], rs, cs, &b[bn], &c[16], ldc, flags)
	case im == ImplAVX2:
		kern6x16AVX2(kc, &a[0], rs, cs, &b[0], &c[0], ldc, flags)
	default:
		kernGo(w, kc, a, rs, cs, b, bn, c, ldc, load)
	}
}
