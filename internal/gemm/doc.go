// Package gemm is the engine's single-precision matrix product,
// C[m,n] = A[m,k]·B[k,n] on row-major float32 matrices with leading
// dimensions, in Go assembly where the CPU allows and in Go elsewhere.
//
// # Entry points
//
//	Sgemm(m, n, k, a, lda, b, ldb, c, ldc, threads)     B given as B[k,n]
//	SgemmNT(m, n, k, a, lda, bt, ldbt, c, ldc, threads) B given as Bᵀ[n,k]
//	PackB(b, ldb, k, n) / PackBT(bt, ldbt, k, n)        B laid out once
//	SgemmPacked(m, a, lda, pb, c, ldc, threads)         with a packed B
//	ReusePackedB(pb, k, n), pb.Strip(q)                 a packed B the caller fills
//	SgemmHalfA, SgemmHalfANT, SgemmHalfAPacked          A as float16 bits
//	SgemmNTHalf, RepackBTHalf                           Bᵀ as float16 bits
//	SgemmOffA(m, a, aOff, pb, c, ldc, threads)          A(i, p) = a[aOff[p]+i]
//	SgemmBF16(m, a, aOff, pb, c, ldc, threads)          bfloat16 pairs, float32 sums (bf16.go)
//
// C is overwritten. B is always consumed in packed form; A is always read
// in place. So the operand worth packing once is the constant one used as
// B:
//
//   - Linear, y[tokens,out] = x·Wᵀ: PackBT(W[out,in]) at load time, then
//     SgemmPacked per call (x is A, in place).
//   - Attention: PackBT(K_h[lk,d]) and PackB(V_h[lk,d]) once per head,
//     then SgemmPacked for S = Q·Kᵀ and O = P·V on each chunk of queries
//     (Q and P are A; lda = dim or lk). Give P a leading dimension that is
//     not a multiple of 1024 (lk+16, say): with lda*4 a multiple of 4 KiB
//     the six rows a tile reads share one L1 set (about 20% slower).
//   - Convolution: out[O,P] = W[O,K]·cols[K,P] with Sgemm packs cols (as B)
//     on every call, which costs about 10% on the large layers. Faster:
//     im2col into patches[P,K] (pixel-major), out[P,O] = patches·Wᵀ with
//     PackBT(W) once, then transpose the (much smaller) output to NCHW.
//
// # Blocking
//
// Goto/BLIS order: for each nc-column panel of C, for each kc-deep block
// of K in increasing order, pack that kc x nc block of B (or point into a
// PackedB), then for each mc-row block of A, for each 16 or 32 columns of
// the panel, run the 6-row micro-kernel down the block. B is packed in
// 16-column strips (row p of a strip = 64 contiguous bytes, zero past n),
// so a kernel's B (kc x 16 or x 32) streams from L1 while A's six rows are
// read in place and its tile of C stays in registers for all kc steps.
// Block sizes are split evenly (k = 320 gives one block of 320, not 256 +
// 64); kc grows with a level-1 data cache of 48 KiB or more (blockingFor). Threads take contiguous ranges of whole tiles along N (each packs
// its own part of B) or along M (B packed once, up front, if not already),
// whichever balances better; never along K.
//
// Kernels: AVX-512 6x32 (12 zmm accumulators; a 6x16 one for a last odd
// strip) and AVX2+FMA 6x16 (12 ymm), picked with golang.org/x/sys/cpu;
// portable Go 6x16/6x32 otherwise and with the purego build tag.
// The AVX2 kernel also comes as kern6x16AVX2N, which runs a whole column
// of full tiles in one call (same chain per tile), so short-K products
// (attention's k = 40) do not pay a Go call per 6x16 tile. For an offset
// A (SgemmOffA: the 3x3 convolution's shifted image runs) the AVX2 6x16
// and AVX-512 6x32 kernels read A in place through the offset table
// (kern6x16AVX2NOff, kern6x32AVX512NOff); the Go set packs its tiles.
// The kernels that read A through row pointers also prefetch a stream of
// six rows into L2 as they run: the tile below (A read in place), or for
// a float16 A the rows of the block widened next (blockOrder.after).
// IMGGEN_GEMM=avx512|avx2|go caps the choice at start-up; SetImpl changes
// it (tests, benchmarks).
//
// # Determinism
//
// Every C element is one chain over p = 0..k-1 in increasing order,
// starting from +0: c = fma(a[i,p], b[p,j], c) in the assembly kernels. A
// K block after the first reloads the partial C into the accumulators, so
// the chain is unbroken whatever kc is. A tile that overhangs C (m%6 rows,
// n%16 columns) runs the same kernel on zero-padded A rows and B columns
// into a scratch tile and copies the valid part out. So the bits do not
// depend on the thread count, the split, kc, mc or nc, or on AVX2 versus
// AVX-512 (tests check all of these bit for bit). The Go kernel rounds the
// product and then the sum (c + float32(a*b)), equally deterministic, but
// not the same bits as the FMA kernels.
//
// # Speed
//
// Measurements, per machine, are in the README's Benchmarks section
// (go test ./internal/gemm -bench . runs them).
package gemm
