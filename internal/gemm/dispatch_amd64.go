//go:build !purego && amd64

package gemm

import "golang.org/x/sys/cpu"

// The assembly kernels (kernel_amd64.s); rs, cs, bn and ldc in elements.

//go:noescape
func kern6x32AVX512N(tiles int, kc int, a *float32, rs int, cs int, b *float32, bn int, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)

//go:noescape
func kern6x48AVX512N(tiles int, kc int, a *float32, rs int, cs int, b *float32, bn int, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int, mask int)

//go:noescape
func kern6x64AVX512N(tiles int, kc int, a *float32, rs int, cs int, b *float32, bn int, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)

//go:noescape
func kern6x64AVX512NOff(tiles int, kc int, a *float32, off *int, b *float32, bn int, c *float32, ldc int, flags int)

//go:noescape
func kern6x16AVX512(kc int, a *float32, rs int, cs int, b *float32, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)

//go:noescape
func kern6x16AVX2(kc int, a *float32, rs int, cs int, b *float32, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)

//go:noescape
func kern6x32AVX512NOff(tiles int, kc int, a *float32, off *int, b *float32, bn int, c *float32, ldc int, flags int)

//go:noescape
func kern6x48AVX512NOff(tiles int, kc int, a *float32, off *int, b *float32, bn int, c *float32, ldc int, flags int, mask int)

//go:noescape
func kern6x16AVX512NOff(tiles int, kc int, a *float32, off *int, b *float32, bn int, c *float32, ldc int, flags int, mask int)

//go:noescape
func kern6x16AVX2NOff(tiles int, kc int, a *float32, off *int, b *float32, c *float32, ldc int, flags int)

// fmaPeak runs n rounds of 12 register-only AVX2 FMAs (BenchmarkFMAPeak).
func fmaPeak(n int)

//go:noescape
func kern6x16AVX2N(tiles int, kc int, a *float32, rs int, cs int, b *float32, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)

// hasAVX512 and hasAVX2 say which kernels this CPU (and OS, for the wide
// register state) can run.
var (
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// microKernel computes the 6 x w tile (w = 16, 32 or, for AVX-512, 48 or 64)
// described in kernel_amd64.s with the kernel set im; for w > 16 strip h
// of B starts at b[h*bn]. The caller guarantees that every address the kernel
// touches is inside the slices.
func microKernel(im Impl, w, kc int, a []float32, rs, cs int, b []float32, bn int, c []float32, ldc int, load bool) {
	microKernelPF(im, w, kc, a, rs, cs, b, bn, c, ldc, load, nextTile(a, rs, cs))
}

// microKernelPF is microKernel with the prefetch stream pf.
func microKernelPF(im Impl, w, kc int, a []float32, rs, cs int, b []float32, bn int, c []float32, ldc int, load bool, pf prefetch) {
	flags := 0
	if load {
		flags = 1
	}
	switch {
	case im == ImplAVX512 && w == 64:
		kern6x64AVX512N(1, kc, &a[0], rs, cs, &b[0], bn, &c[0], ldc, flags, pf.p, pf.stride, pf.step)
	case im == ImplAVX512 && w == 48:
		kern6x48AVX512N(1, kc, &a[0], rs, cs, &b[0], bn, &c[0], ldc, flags, pf.p, pf.stride, pf.step, 0xffff)
	case im == ImplAVX512 && w == 32:
		kern6x32AVX512N(1, kc, &a[0], rs, cs, &b[0], bn, &c[0], ldc, flags, pf.p, pf.stride, pf.step)
	case im == ImplAVX512:
		kern6x16AVX512(kc, &a[0], rs, cs, &b[0], &c[0], ldc, flags, pf.p, pf.stride, pf.step)
	case im == ImplAVX2 && w == 32:
		// Two 16-column halves; each element still sees the same chain.
		kern6x16AVX2(kc, &a[0], rs, cs, &b[0], &c[0], ldc, flags, pf.p, pf.stride, pf.step)
		kern6x16AVX2(kc, &a[0], rs, cs, &b[bn], &c[16], ldc, flags, pf.p, pf.stride, pf.step)
	case im == ImplAVX2:
		kern6x16AVX2(kc, &a[0], rs, cs, &b[0], &c[0], ldc, flags, pf.p, pf.stride, pf.step)
	default:
		kernGo(w, kc, a, rs, cs, b, bn, c, ldc, load)
	}
}

// microKernelCol runs microKernel on tiles 6-row tiles down one column of
// C: tile t reads A from a[6*t*rs:] and writes c[6*t*ldc:], and
// prefetches pf moved down 6*t rows. The AVX2 16-wide and AVX-512 32-,
// 48- and 64-wide kernels do it in one call (kern6x16AVX2N,
// kern6x32AVX512N, kern6x48AVX512N, kern6x64AVX512N); the results are
// those of one call per tile. Only the first v of the w columns are C's
// (v = w but for the 48-wide kernel, which leaves columns v to 47 alone
// when v > 32).
func microKernelCol(im Impl, w, v, tiles, kc int, a []float32, rs, cs int, b []float32, bn int, c []float32, ldc int, load bool, pf prefetch) {
	if (im == ImplAVX2 && w == 16) || (im == ImplAVX512 && w >= 32) {
		flags := 0
		if load {
			flags = 1
		}
		// The last tile's corners, so that the bounds are checked once.
		_ = a[(tiles-1)*mr*rs+(mr-1)*rs+(kc-1)*cs]
		_ = c[(tiles-1)*mr*ldc+(mr-1)*ldc+v-1]
		if w == 64 {
			_ = b[3*bn+(kc-1)*sw+sw-1]
			kern6x64AVX512N(tiles, kc, &a[0], rs, cs, &b[0], bn, &c[0], ldc, flags, pf.p, pf.stride, pf.step)
			return
		}
		if w == 48 {
			_ = b[2*bn+(kc-1)*sw+sw-1]
			kern6x48AVX512N(tiles, kc, &a[0], rs, cs, &b[0], bn, &c[0], ldc, flags, pf.p, pf.stride, pf.step, 1<<(v-2*sw)-1)
			return
		}
		if w == 32 {
			_ = b[bn+(kc-1)*sw+sw-1]
			kern6x32AVX512N(tiles, kc, &a[0], rs, cs, &b[0], bn, &c[0], ldc, flags, pf.p, pf.stride, pf.step)
			return
		}
		_ = b[(kc-1)*sw+sw-1]
		kern6x16AVX2N(tiles, kc, &a[0], rs, cs, &b[0], &c[0], ldc, flags, pf.p, pf.stride, pf.step)
		return
	}
	for t := 0; t < tiles; t++ {
		microKernelPF(im, w, kc, a[t*mr*rs:], rs, cs, b, bn, c[t*mr*ldc:], ldc, load, pf.down(t*mr))
	}
}

// partialKernel reports whether im's column kernel of width w writes only
// the first v of its columns (see microKernelCol), so that a last strip
// partly outside C needs no staging through worker.tmp.
func partialKernel(im Impl, w, v int) bool {
	return im == ImplAVX512 && w == 48 && v > 2*sw
}

// offsetKernel reports whether kernel set im reads an offset A (SgemmOffA)
// in place on a panel of nq strips whose last valid columns end v into
// the last strip; otherwise the tiles are packed. The AVX-512 kernels
// cover one to four strips per call, and the 16- and 48-wide ones mask
// the last strip's columns, so only a partial last pair needs packing;
// AVX2 runs a strip at a time and cannot mask.
func offsetKernel(im Impl, nq, v int) bool {
	switch im {
	case ImplAVX2:
		return v == sw
	case ImplAVX512:
		last := nq
		for q := 0; q < nq; q += last {
			last = min(stripStepAt(im, nq-q), nq-q)
		}
		return v == sw || last%2 == 1
	}
	return false
}

// microKernelColOff runs tiles 6-row tiles down one column of C with
// A(i, p) = a[off[p]+i] read in place: the 16-column AVX2 kernel (w = 16)
// or an AVX-512 one (w = 16, 32, 48 or 64, strip h at b[h*bn]). Only the
// first v of the w columns are C's: v = w but for the 16- and 48-wide
// AVX-512 kernels, which mask their last strip. The caller guarantees
// that off[p] + 6*tiles <= len(a) for every p < kc (SgemmOffA checks it).
func microKernelColOff(im Impl, w, v, tiles, kc int, a []float32, off []int, b []float32, bn int, c []float32, ldc int, load bool) {
	flags := 0
	if load {
		flags = 1
	}
	_ = off[kc-1]
	_ = c[(tiles-1)*mr*ldc+(mr-1)*ldc+v-1]
	if im == ImplAVX512 {
		_ = b[(w/sw-1)*bn+(kc-1)*sw+sw-1]
		switch w {
		case 64:
			kern6x64AVX512NOff(tiles, kc, &a[0], &off[0], &b[0], bn, &c[0], ldc, flags)
			return
		case 48:
			kern6x48AVX512NOff(tiles, kc, &a[0], &off[0], &b[0], bn, &c[0], ldc, flags, 1<<(v-2*sw)-1)
			return
		case 32:
			kern6x32AVX512NOff(tiles, kc, &a[0], &off[0], &b[0], bn, &c[0], ldc, flags)
			return
		case 16:
			kern6x16AVX512NOff(tiles, kc, &a[0], &off[0], &b[0], bn, &c[0], ldc, flags, 1<<v-1)
			return
		}
	}
	if im != ImplAVX2 || w != sw {
		panic("gemm: no offset kernel for this width and kernel set")
	}
	_ = b[(kc-1)*sw+sw-1]
	kern6x16AVX2NOff(tiles, kc, &a[0], &off[0], &b[0], &c[0], ldc, flags)
}

//go:noescape
func kern6x32BF16NOff(tiles int, kc int, a *uint32, off *int, b *uint32, bn int, c *float32, ldc int, flags int)

// hasBF16 says whether this CPU runs the bfloat16 kernel (VDPBF16PS).
var hasBF16 = hasAVX512 && cpu.X86.HasAVX512BF16

// bf16Kernel reports whether SgemmBF16 uses the assembly kernel: the CPU
// has it and the kernel set is not capped below AVX-512.
func bf16Kernel() bool { return hasBF16 && CurrentImpl() == ImplAVX512 }

// kernBF16Asm runs kern6x32BF16NOff; the caller has checked the bounds.
func kernBF16Asm(tiles, kc int, a []uint32, off []int, b []uint32, bn int, c []float32, ldc int, load bool) {
	flags := 0
	if load {
		flags = 1
	}
	kern6x32BF16NOff(tiles, kc, &a[0], &off[0], &b[0], bn, &c[0], ldc, flags)
}
