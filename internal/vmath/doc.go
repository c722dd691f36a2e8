// Package vmath holds vectorised float32 kernels for the elementwise math
// of the engine: exp, softmax, SiLU, GELU, GEGLU, QuickGELU, GroupNorm's
// scale-shift and normalisation statistics.
//
// # Why
//
// Profiling internal/nn showed the float64 math.Exp in softmax costing 7-12
// times the Q·Kᵀ product before it, and SiLU/GELU through float64 math at
// 5-10 ns an element; a 512x512 SD1.5 U-Net evaluation needs about 1.4e9
// exps (attention), 1.5e8 SiLUs and 5e7 GELUs. These kernels do the same
// math in float32 SIMD at well under 1 ns an element, as accurate as the
// float32 results PyTorch produces (see Accuracy).
//
// # Kernel sets
//
// Three implementations give identical bits: AVX-512F/DQ assembly (16
// lanes), AVX2+FMA assembly (2 x 8 lanes) and portable Go (the only one
// with the purego build tag or off amd64). The best one the CPU runs is
// chosen at start-up; IMGGEN_VMATH=avx512|avx2|go caps it, SetImpl picks
// one (tests, benchmarks). The conventions are those of internal/gemm.
// The Go path pays for its exactness (each FMA emulated in float64): it is
// 2-3 times slower than the scalar float64 math.Exp code it replaces, and
// is meant for purego builds and other architectures.
//
// # Determinism
//
// Each element's result depends only on its input value: the assembly
// loops take whole blocks of 16 and the last partial block runs through the
// same kernel in a 16-element buffer, so an element computes the same
// instructions in the body or the tail, at any offset or alignment. The Go
// code is the specification the assembly follows step for step: each fused
// multiply-add is a correctly rounded float32 FMA (fma32, emulated exactly
// in float64 with a round-to-odd fix-up), each other step the same IEEE
// float32 operation, min/max with x86 operand semantics. Reductions use
// fixed lanes indexed by element position (i mod 16 for the softmax sum in
// float32, i mod 32 for the float64 sums), filled in element order and
// combined pairwise (lane j += lane j+w, w halving), the same on every path
// and for every placement of the slice. NaN results are NaN on every path,
// though not necessarily with the same payload.
//
// # Algorithms
//
// Exp. x is clamped to [-104, 89] (min/max taking x as the second source,
// so NaN passes through; beyond the clamps exp is 0 or +Inf anyway). Range
// reduction: k = fma(x, log2e, 1.5·2^23) rounds x·log2e to the integer n
// in its low mantissa bits (n = k - 1.5·2^23 exactly); r = x - n·ln2 in two
// FMAs with ln2 split Cody-Waite style into float32(ln2) and the float32
// remainder (the first step is exact). e^r on |r| <= ln2/2 is the Cephes
// expf polynomial 1 + r + r²(c0 + c1·r + ... + c5·r⁴) (coefficients
// 5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3,
// 1.3981999507e-3, 1.9875691500e-4), evaluated as one Horner chain of 7
// FMAs. The result is scaled by 2^n as (p·2^n1)·2^n2 with n1 = n>>1,
// n2 = n-n1, both powers normal for n in [-150, 128]: the first product is
// exact and the second rounds once, which yields correctly rounded
// subnormals, exact 0 below -103.97 and +Inf above 88.72 without compares.
//
// SiLU and QuickGELU are x / (1 + exp(y)) with y = -x or y = float32(-1.702)·x
// (the roundings of nn's and torch's formulas), with a true division
// (reciprocal estimates differ between CPUs).
//
// GELU is x·Φ(x). With u = min(|x|, 16) and q = Φ(-u) = erfc(u/√2)/2,
// Φ(x) is q for x < 0 (sign bit set, so -0 stays -0) and 1-q otherwise,
// so negative inputs keep full relative accuracy. q = exp(-u²/2)·R(t) with
// t = 1/(1 + 0.4u): R(t) = Φ(-u)·exp(u²/2) (Mills' ratio over √(2π)) is a
// smooth function of t on [1/7.4, 1], approximated by a degree-10
// polynomial whose float32 coefficients were fitted for minimal relative
// error by TestFitGELU (Lawson's iteratively reweighted least squares,
// then rounding to float32 one coefficient at a time and refitting the
// rest; float32 evaluation error 1.35e-7). u² is split exactly into
// s = float32(u·u) and e = fma(u, u, -s); exp takes -s/2 and R is scaled by
// 1 - e/2. GEGLU is hidden·gelu(gate) on the two halves of each row.
//
// SoftmaxScaled makes three passes over the row: max of y = float32(x·scale)
// in lanes, then e = exp(y - max) stored and summed in 16 float32 lanes,
// then a multiplication by 1/sum.
//
// Sum, SumSqDiff and Moments convert to float64 and accumulate in 32
// float64 lanes (each term of SumSqDiff one float64 FMA); Moments is two
// passes, the mean, then the sum of squared deviations from it.
//
// # Accuracy
//
// Against float64 references (vmath_test.go; identical on all paths):
//
//	Exp        <= 0.894 ulp on [-87.34, 88.72] (all float32 checked);
//	           subnormal results within 0.85·2^-149
//	SiLU       <= 2.4 ulp, 1.7e-7 relative (x >= -88.7; below: -0)
//	QuickGELU  <= 2.3 ulp, 1.7e-7 relative to x/(1+exp(float32(-1.702x)))
//	GELU       <= 9.5 ulp, 4.2e-7 relative, 3.8e-7 absolute (all float32
//	           in [-20, 20] checked; beyond, GELU is x or -0)
//	Softmax    3.6e-7 absolute, 6.5e-7 relative (4096-long rows; nn's
//	           float64-exp version: 3.0e-6, 5.0e-6, from its serial sum)
//	Moments    1e-15 relative (mean and variance)
package vmath
