//go:build !purego && amd64

#include "textflag.h"

// Kernels for AVX2+FMA (Y registers, two 8-lane streams per step) and
// AVX-512F/DQ (Z registers, one 16-lane stream per step). Both use the same
// macros below, which are written with mnemonics that exist in the VEX (Y)
// and EVEX (Z) encodings alike, so a lane computes exactly the same
// instruction sequence on either path, the one scalar.go spells out with
// fma32 and float32 operations. Every kernel handles n elements, n a
// multiple of 16 (32 for the float64 sums); the Go wrappers do the rest.
//
// Constants live in 64-byte tables (16 copies) so that one memory operand
// serves a Y (first 32 bytes) or a Z register. min/max clamps take the
// constant in a register as the first source and the data as the second,
// so that a NaN in the data propagates (VMINPS/VMAXPS return the second
// source when either is NaN).

#define CONST16(name, val) \
	DATA name<>+0(SB)/8, val;  \
	DATA name<>+8(SB)/8, val;  \
	DATA name<>+16(SB)/8, val; \
	DATA name<>+24(SB)/8, val; \
	DATA name<>+32(SB)/8, val; \
	DATA name<>+40(SB)/8, val; \
	DATA name<>+48(SB)/8, val; \
	DATA name<>+56(SB)/8, val; \
	GLOBL name<>(SB), RODATA|NOPTR, $64

CONST16(cExpHi, $0x42b2000042b20000)  // 89
CONST16(cExpLo, $0xc2d00000c2d00000)  // -104
CONST16(cMagic, $0x4b4000004b400000)  // 1.5·2^23
CONST16(cLog2e, $0x3fb8aa3b3fb8aa3b)  // float32(log2 e)
CONST16(cLn2Hi, $0x3f3172183f317218)  // float32(ln 2)
CONST16(cLn2Lo, $0xb102e308b102e308)  // float32(ln 2 - ln2Hi)
CONST16(cExpC5, $0x3950696739506967)  // 1.9875691500e-4
CONST16(cExpC4, $0x3ab743ce3ab743ce)  // 1.3981999507e-3
CONST16(cExpC3, $0x3c0889083c088908)  // 8.3334519073e-3
CONST16(cExpC2, $0x3d2aa9c13d2aa9c1)  // 4.1665795894e-2
CONST16(cExpC1, $0x3e2aaaaa3e2aaaaa)  // 1.6666665459e-1
CONST16(cExpC0, $0x3f0000003f000000)  // 5.0000001201e-1 (= 0.5 in float32)
CONST16(cOne, $0x3f8000003f800000)    // 1.0, also 127<<23
CONST16(cSign, $0x8000000080000000)
CONST16(cAbs, $0x7fffffff7fffffff)
CONST16(cMHalf, $0xbf000000bf000000)  // -0.5
CONST16(cQG, $0xbfd9db23bfd9db23)     // float32(-1.702)
CONST16(cUMax, $0x4180000041800000)   // 16
CONST16(cGeluP, $0x3ecccccd3ecccccd)  // float32(0.4)
CONST16(cR0, $0xb56e9772b56e9772)     // geluR[0..10]
CONST16(cR1, $0x3e236e373e236e37)
CONST16(cR2, $0x3e232bef3e232bef)
CONST16(cR3, $0x3e0a31233e0a3123)
CONST16(cR4, $0x3dac1fce3dac1fce)
CONST16(cR5, $0xbbfe000dbbfe000d)
CONST16(cR6, $0x3db0e9f23db0e9f2)
CONST16(cR7, $0xbeac342ebeac342e)
CONST16(cR8, $0x3eb5e0533eb5e053)
CONST16(cR9, $0xbe29abb7be29abb7)
CONST16(cR10, $0x3cf79c023cf79c02)

// EXP: X = exp(X), step for step exp1 in scalar.go; T0..T2 are clobbered.
//
//	x  = max(-104, min(89, x))       NaN stays (second source)
//	T0 = k = x·log2e + 1.5·2^23      round(x·log2e) in the low bits
//	T1 = n = k - 1.5·2^23
//	x  = r = (x - n·ln2Hi) - n·ln2Lo
//	T2 = p = Horner(c5..c0, 1, 1)(r) ≈ e^r
//	T0 = n = bits(k) - bits(1.5·2^23), T1 = n1 = n>>1, T0 = n2 = n - n1
//	x  = (p · 2^n1) · 2^n2            2^m = (m<<23) + bits(1.0)
#define EXP(X, T0, T1, T2) \
	EXP_POLY(X, T0, T1, T2);        \
	VPSUBD       cMagic<>(SB), T0, T0;  \
	VPSRAD       $1, T0, T1;        \
	VPSUBD       T1, T0, T0;        \
	VPSLLD       $23, T1, T1;       \
	VPADDD       cOne<>(SB), T1, T1;  \
	VPSLLD       $23, T0, T0;       \
	VPADDD       cOne<>(SB), T0, T0;  \
	VMULPS       T1, T2, T2;        \
	VMULPS       T0, T2, X

// EXP_POLY is the part of EXP and EXPZ before the scaling by 2^n: K = k,
// N = n (a float), P = p ≈ e^r; X is left holding r.
#define EXP_POLY(X, K, N, P) \
	VMOVUPS      cExpHi<>(SB), K;   \
	VMINPS       X, K, X;           \
	VMOVUPS      cExpLo<>(SB), K;   \
	VMAXPS       X, K, X;           \
	VMOVUPS      cMagic<>(SB), K;   \
	VFMADD231PS  cLog2e<>(SB), X, K; \
	VSUBPS       cMagic<>(SB), K, N;  \
	VFNMADD231PS cLn2Hi<>(SB), N, X; \
	VFNMADD231PS cLn2Lo<>(SB), N, X; \
	VMOVUPS      cExpC5<>(SB), P;   \
	VFMADD213PS  cExpC4<>(SB), X, P; \
	VFMADD213PS  cExpC3<>(SB), X, P; \
	VFMADD213PS  cExpC2<>(SB), X, P; \
	VFMADD213PS  cExpC1<>(SB), X, P; \
	VFMADD213PS  cExpC0<>(SB), X, P; \
	VFMADD213PS  cOne<>(SB), X, P;   \
	VFMADD213PS  cOne<>(SB), X, P

// EXPZ is EXP for AVX-512 registers, with the same bits: the scaling by
// 2^n is one VSCALEFPS (p·2^n rounded once) instead of the two exact-then-
// rounded multiplies by 2^n1 and 2^n2 built from integer bits. p·2^n1 is a
// normal number for every n the clamp allows (n1 >= -75), so the two
// multiplies round once too, at the same place. Nine instructions fewer.
#define EXPZ(X, T0, T1, T2) \
	EXP_POLY(X, T0, T1, T2); \
	VSCALEFPS T1, T2, X

// SIGMULZ is SIGMUL for AVX-512 registers (through EXPZ).
#define SIGMULZ(X, Y, T0, T1, T2) \
	EXPZ(Y, T0, T1, T2);      \
	VADDPS cOne<>(SB), Y, Y;  \
	VDIVPS Y, X, X

// SIGMUL: X = X / (1 + exp(Y)) (sigmoidMul1); Y, T0..T2 are clobbered.
#define SIGMUL(X, Y, T0, T1, T2) \
	EXP(Y, T0, T1, T2);       \
	VADDPS cOne<>(SB), Y, Y;  \
	VDIVPS Y, X, X

// GELU: X = gelu(X), step for step gelu1/phiNeg in scalar.go; U, S, E, R,
// T0..T2 are clobbered.
//
//	U = u = min(16, |x|)
//	S = s = u·u, E = e = fma(u, u, -s)
//	T1 = t = 1 / (1 + 0.4·u)
//	R = Horner(R10..R0)(t) · (1 - e/2)   as fma(R, e·-0.5, R)
//	S = q = exp(s·-0.5) · R              Φ(-|x|)
//	S = sign(x) ? q : 1-q                by the mask x>>31 (arithmetic)
//	X = x · S
#define GELU(X, U, S, E, R, T0, T1, T2) \
	VANDPS      cAbs<>(SB), X, U;   \
	VMOVUPS     cUMax<>(SB), T0;    \
	VMINPS      U, T0, U;           \
	VMULPS      U, U, S;            \
	VMOVAPS     S, E;               \
	VFMSUB231PS U, U, E;            \
	VMOVUPS     cOne<>(SB), T0;     \
	VFMADD231PS cGeluP<>(SB), U, T0; \
	VMOVUPS     cOne<>(SB), T1;     \
	VDIVPS      T0, T1, T1;         \
	VMOVUPS     cR10<>(SB), R;      \
	VFMADD213PS cR9<>(SB), T1, R;   \
	VFMADD213PS cR8<>(SB), T1, R;   \
	VFMADD213PS cR7<>(SB), T1, R;   \
	VFMADD213PS cR6<>(SB), T1, R;   \
	VFMADD213PS cR5<>(SB), T1, R;   \
	VFMADD213PS cR4<>(SB), T1, R;   \
	VFMADD213PS cR3<>(SB), T1, R;   \
	VFMADD213PS cR2<>(SB), T1, R;   \
	VFMADD213PS cR1<>(SB), T1, R;   \
	VFMADD213PS cR0<>(SB), T1, R;   \
	VMULPS      cMHalf<>(SB), E, E; \
	VFMADD213PS R, E, R;            \
	VMULPS      cMHalf<>(SB), S, S; \
	EXP(S, T0, T1, U);              \
	VMULPS      R, S, S;            \
	VPSRAD      $31, X, T0;         \
	VMOVUPS     cOne<>(SB), T1;     \
	VSUBPS      S, T1, T1;          \
	VANDPS      T0, S, S;           \
	VANDNPS     T1, T0, T0;         \
	VORPS       T0, S, S;           \
	VMULPS      S, X, X

#define NEXT \
	ADDQ $64, SI; \
	ADDQ $64, DI; \
	DECQ CX;      \
	JNZ  loop

// func expAVX2(dst, src *float32, n int)
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	EXP(Y0, Y1, Y2, Y3)
	EXP(Y4, Y5, Y6, Y7)
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	NEXT
done:
	VZEROUPPER
	RET

// func expAVX512(dst, src *float32, n int)
TEXT ·expAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	VMOVUPS (SI), Z0
	EXPZ(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	NEXT
done:
	VZEROUPPER
	RET

// func siluAVX2(dst, src *float32, n int)
TEXT ·siluAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	VXORPS  cSign<>(SB), Y0, Y1
	VXORPS  cSign<>(SB), Y5, Y6
	SIGMUL(Y0, Y1, Y2, Y3, Y4)
	SIGMUL(Y5, Y6, Y7, Y8, Y9)
	VMOVUPS Y0, (DI)
	VMOVUPS Y5, 32(DI)
	NEXT
done:
	VZEROUPPER
	RET

// func siluAVX512(dst, src *float32, n int)
TEXT ·siluAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	VMOVUPS (SI), Z0
	VXORPS  cSign<>(SB), Z0, Z1
	SIGMULZ(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z0, (DI)
	NEXT
done:
	VZEROUPPER
	RET

// func quickGELUAVX2(dst, src *float32, n int)
TEXT ·quickGELUAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y5
	VMULPS  cQG<>(SB), Y0, Y1
	VMULPS  cQG<>(SB), Y5, Y6
	SIGMUL(Y0, Y1, Y2, Y3, Y4)
	SIGMUL(Y5, Y6, Y7, Y8, Y9)
	VMOVUPS Y0, (DI)
	VMOVUPS Y5, 32(DI)
	NEXT
done:
	VZEROUPPER
	RET

// func quickGELUAVX512(dst, src *float32, n int)
TEXT ·quickGELUAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	VMOVUPS (SI), Z0
	VMULPS  cQG<>(SB), Z0, Z1
	SIGMULZ(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z0, (DI)
	NEXT
done:
	VZEROUPPER
	RET

// func geluAVX2(dst, src *float32, n int)
TEXT ·geluAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y8
	GELU(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	GELU(Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	VMOVUPS Y0, (DI)
	VMOVUPS Y8, 32(DI)
	NEXT
done:
	VZEROUPPER
	RET

// func geluAVX512(dst, src *float32, n int)
TEXT ·geluAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   done
loop:
	VMOVUPS (SI), Z0
	GELU(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VMOVUPS Z0, (DI)
	NEXT
done:
	VZEROUPPER
	RET

// GEGLU: dst[i] = a[i]·gelu(b[i]), or (a[i]+ba[i])·gelu(b[i]+bb[i]) when
// ba is not nil (a linear layer's bias added on the way in, each sum
// rounded once, as a separate pass would).
// func gegluAVX2(dst, a, b, ba, bb *float32, n int)
TEXT ·gegluAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), DX
	MOVQ b+16(FP), SI
	MOVQ ba+24(FP), R8
	MOVQ bb+32(FP), R9
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	JZ   done
	TESTQ R8, R8
	JNZ  biasloop
loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y8
	GELU(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	GELU(Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	VMULPS  (DX), Y0, Y0
	VMULPS  32(DX), Y8, Y8
	VMOVUPS Y0, (DI)
	VMOVUPS Y8, 32(DI)
	ADDQ    $64, DX
	NEXT
	JMP  done
biasloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y8
	VADDPS  (R9), Y0, Y0
	VADDPS  32(R9), Y8, Y8
	GELU(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7)
	GELU(Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15)
	VMOVUPS (DX), Y1
	VMOVUPS 32(DX), Y9
	VADDPS  (R8), Y1, Y1
	VADDPS  32(R8), Y9, Y9
	VMULPS  Y1, Y0, Y0
	VMULPS  Y9, Y8, Y8
	VMOVUPS Y0, (DI)
	VMOVUPS Y8, 32(DI)
	ADDQ    $64, DX
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $64, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     biasloop
done:
	VZEROUPPER
	RET

// func gegluAVX512(dst, a, b, ba, bb *float32, n int)
TEXT ·gegluAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), DX
	MOVQ b+16(FP), SI
	MOVQ ba+24(FP), R8
	MOVQ bb+32(FP), R9
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	JZ   done
	TESTQ R8, R8
	JNZ  biasloop
loop:
	VMOVUPS (SI), Z0
	GELU(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VMULPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DX
	NEXT
	JMP  done
biasloop:
	VMOVUPS (SI), Z0
	VADDPS  (R9), Z0, Z0
	GELU(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7)
	VMOVUPS (DX), Z8
	VADDPS  (R8), Z8, Z8
	VMULPS  Z8, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DX
	ADDQ    $64, R8
	ADDQ    $64, R9
	ADDQ    $64, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     biasloop
done:
	VZEROUPPER
	RET

// ScaleShift: dst[i] = fma(src[i], scale, shift), then SiLU when silu != 0.
// func scaleShiftAVX2(dst, src *float32, n int, scale, shift float32, silu int)
TEXT ·scaleShiftAVX2(SB), NOSPLIT, $0-40
	VBROADCASTSS scale+24(FP), Y14
	VBROADCASTSS shift+28(FP), Y15
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  n+16(FP), CX
	MOVQ  silu+32(FP), AX
	SHRQ  $4, CX
	JZ    done
	TESTQ AX, AX
	JNZ   siluloop
loop:
	VMOVUPS     (SI), Y0
	VMOVUPS     32(SI), Y5
	VFMADD213PS Y15, Y14, Y0
	VFMADD213PS Y15, Y14, Y5
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y5, 32(DI)
	NEXT
	JMP         done
siluloop:
	VMOVUPS     (SI), Y0
	VMOVUPS     32(SI), Y5
	VFMADD213PS Y15, Y14, Y0
	VFMADD213PS Y15, Y14, Y5
	VXORPS      cSign<>(SB), Y0, Y1
	VXORPS      cSign<>(SB), Y5, Y6
	SIGMUL(Y0, Y1, Y2, Y3, Y4)
	SIGMUL(Y5, Y6, Y7, Y8, Y9)
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y5, 32(DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         siluloop
done:
	VZEROUPPER
	RET

// func scaleShiftAVX512(dst, src *float32, n int, scale, shift float32, silu int)
TEXT ·scaleShiftAVX512(SB), NOSPLIT, $0-40
	VBROADCASTSS scale+24(FP), Z14
	VBROADCASTSS shift+28(FP), Z15
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  n+16(FP), CX
	MOVQ  silu+32(FP), AX
	SHRQ  $4, CX
	JZ    done
	TESTQ AX, AX
	JNZ   siluloop
loop:
	VMOVUPS     (SI), Z0
	VFMADD213PS Z15, Z14, Z0
	VMOVUPS     Z0, (DI)
	NEXT
	JMP         done
siluloop:
	VMOVUPS     (SI), Z0
	VFMADD213PS Z15, Z14, Z0
	VXORPS      cSign<>(SB), Z0, Z1
	SIGMULZ(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS     Z0, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         siluloop
done:
	VZEROUPPER
	RET

// Softmax passes. Lane j (0..15) of lanes/acc takes elements i ≡ j mod 16.

// func maxScaledAVX2(src *float32, n int, scale float32, lanes *[16]float32)
//
// Two pairs of accumulators, 32 elements a round (see maxScaledAVX512).
TEXT ·maxScaledAVX2(SB), NOSPLIT, $0-32
	MOVQ         src+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Y2
	MOVQ         lanes+24(FP), DX
	VMOVUPS      (DX), Y0
	VMOVUPS      32(DX), Y1
	VMOVAPS      Y0, Y5
	VMOVAPS      Y1, Y6
	SHRQ         $4, CX
	MOVQ         CX, BX
	SHRQ         $1, BX
	JZ           tail
loop2:
	VMULPS       (SI), Y2, Y3
	VMULPS       32(SI), Y2, Y4
	VMULPS       64(SI), Y2, Y7
	VMULPS       96(SI), Y2, Y8
	VMAXPS       Y3, Y0, Y0
	VMAXPS       Y4, Y1, Y1
	VMAXPS       Y7, Y5, Y5
	VMAXPS       Y8, Y6, Y6
	ADDQ         $128, SI
	DECQ         BX
	JNZ          loop2
tail:
	ANDQ         $1, CX
	JZ           done
	VMULPS       (SI), Y2, Y3
	VMULPS       32(SI), Y2, Y4
	VMAXPS       Y3, Y0, Y0
	VMAXPS       Y4, Y1, Y1
done:
	VMAXPS       Y5, Y0, Y0
	VMAXPS       Y6, Y1, Y1
	VMOVUPS      Y0, (DX)
	VMOVUPS      Y1, 32(DX)
	VZEROUPPER
	RET

// func maxScaledAVX512(src *float32, n int, scale float32, lanes *[16]float32)
//
// Four accumulators, 64 elements a round: one VMAXPS chain would wait on
// its latency every 16 elements. Lane j still sees exactly the elements
// i ≡ j (mod 16), and a maximum does not depend on their grouping.
TEXT ·maxScaledAVX512(SB), NOSPLIT, $0-32
	MOVQ         src+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Z2
	MOVQ         lanes+24(FP), DX
	VMOVUPS      (DX), Z0
	VMOVAPS      Z0, Z4
	VMOVAPS      Z0, Z5
	VMOVAPS      Z0, Z6
	SHRQ         $4, CX
	MOVQ         CX, BX
	SHRQ         $2, BX
	JZ           tail
loop4:
	VMULPS       (SI), Z2, Z3
	VMULPS       64(SI), Z2, Z7
	VMULPS       128(SI), Z2, Z8
	VMULPS       192(SI), Z2, Z9
	VMAXPS       Z3, Z0, Z0
	VMAXPS       Z7, Z4, Z4
	VMAXPS       Z8, Z5, Z5
	VMAXPS       Z9, Z6, Z6
	ADDQ         $256, SI
	DECQ         BX
	JNZ          loop4
tail:
	ANDQ         $3, CX
	JZ           done
loop:
	VMULPS       (SI), Z2, Z3
	VMAXPS       Z3, Z0, Z0
	ADDQ         $64, SI
	DECQ         CX
	JNZ          loop
done:
	VMAXPS       Z4, Z0, Z0
	VMAXPS       Z6, Z5, Z5
	VMAXPS       Z5, Z0, Z0
	VMOVUPS      Z0, (DX)
	VZEROUPPER
	RET

// func expSumAVX2(row *float32, n int, scale, m float32, acc *[16]float32)
TEXT ·expSumAVX2(SB), NOSPLIT, $0-32
	MOVQ         row+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Y8
	VBROADCASTSS m+20(FP), Y9
	MOVQ         acc+24(FP), DX
	VMOVUPS      (DX), Y10
	VMOVUPS      32(DX), Y11
	SHRQ         $4, CX
	JZ           done
loop:
	VMULPS       (SI), Y8, Y0
	VMULPS       32(SI), Y8, Y4
	VSUBPS       Y9, Y0, Y0
	VSUBPS       Y9, Y4, Y4
	EXP(Y0, Y1, Y2, Y3)
	EXP(Y4, Y5, Y6, Y7)
	VMOVUPS      Y0, (SI)
	VMOVUPS      Y4, 32(SI)
	VADDPS       Y0, Y10, Y10
	VADDPS       Y4, Y11, Y11
	ADDQ         $64, SI
	DECQ         CX
	JNZ          loop
done:
	VMOVUPS      Y10, (DX)
	VMOVUPS      Y11, 32(DX)
	VZEROUPPER
	RET

// func expSumAVX512(row *float32, n int, scale, m float32, acc *[16]float32)
TEXT ·expSumAVX512(SB), NOSPLIT, $0-32
	MOVQ         row+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS scale+16(FP), Z8
	VBROADCASTSS m+20(FP), Z9
	MOVQ         acc+24(FP), DX
	VMOVUPS      (DX), Z10
	SHRQ         $4, CX
	JZ           done
loop:
	VMULPS       (SI), Z8, Z0
	VSUBPS       Z9, Z0, Z0
	EXPZ(Z0, Z1, Z2, Z3)
	VMOVUPS      Z0, (SI)
	VADDPS       Z0, Z10, Z10
	ADDQ         $64, SI
	DECQ         CX
	JNZ          loop
done:
	VMOVUPS      Z10, (DX)
	VZEROUPPER
	RET

// func mulAVX2(row *float32, n int, c float32)
TEXT ·mulAVX2(SB), NOSPLIT, $0-20
	MOVQ         row+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS c+16(FP), Y2
	SHRQ         $4, CX
	JZ           done
loop:
	VMULPS       (SI), Y2, Y0
	VMULPS       32(SI), Y2, Y1
	VMOVUPS      Y0, (SI)
	VMOVUPS      Y1, 32(SI)
	ADDQ         $64, SI
	DECQ         CX
	JNZ          loop
done:
	VZEROUPPER
	RET

// func mulAVX512(row *float32, n int, c float32)
TEXT ·mulAVX512(SB), NOSPLIT, $0-20
	MOVQ         row+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS c+16(FP), Z2
	SHRQ         $4, CX
	JZ           done
loop:
	VMULPS       (SI), Z2, Z0
	VMOVUPS      Z0, (SI)
	ADDQ         $64, SI
	DECQ         CX
	JNZ          loop
done:
	VZEROUPPER
	RET

// float64 sums. Lane j (0..31) of acc takes elements i ≡ j mod 32; n is a
// multiple of 32.

// func sumAVX2(src *float32, n int, acc *[32]float64)
TEXT ·sumAVX2(SB), NOSPLIT, $0-24
	MOVQ      src+0(FP), SI
	MOVQ      n+8(FP), CX
	MOVQ      acc+16(FP), DX
	VMOVUPD   (DX), Y0
	VMOVUPD   32(DX), Y1
	VMOVUPD   64(DX), Y2
	VMOVUPD   96(DX), Y3
	VMOVUPD   128(DX), Y4
	VMOVUPD   160(DX), Y5
	VMOVUPD   192(DX), Y6
	VMOVUPD   224(DX), Y7
	SHRQ      $5, CX
	JZ        done
loop:
	VCVTPS2PD (SI), Y8
	VCVTPS2PD 16(SI), Y9
	VCVTPS2PD 32(SI), Y10
	VCVTPS2PD 48(SI), Y11
	VCVTPS2PD 64(SI), Y12
	VCVTPS2PD 80(SI), Y13
	VCVTPS2PD 96(SI), Y14
	VCVTPS2PD 112(SI), Y15
	VADDPD    Y8, Y0, Y0
	VADDPD    Y9, Y1, Y1
	VADDPD    Y10, Y2, Y2
	VADDPD    Y11, Y3, Y3
	VADDPD    Y12, Y4, Y4
	VADDPD    Y13, Y5, Y5
	VADDPD    Y14, Y6, Y6
	VADDPD    Y15, Y7, Y7
	ADDQ      $128, SI
	DECQ      CX
	JNZ       loop
done:
	VMOVUPD   Y0, (DX)
	VMOVUPD   Y1, 32(DX)
	VMOVUPD   Y2, 64(DX)
	VMOVUPD   Y3, 96(DX)
	VMOVUPD   Y4, 128(DX)
	VMOVUPD   Y5, 160(DX)
	VMOVUPD   Y6, 192(DX)
	VMOVUPD   Y7, 224(DX)
	VZEROUPPER
	RET

// func sumAVX512(src *float32, n int, acc *[32]float64)
TEXT ·sumAVX512(SB), NOSPLIT, $0-24
	MOVQ      src+0(FP), SI
	MOVQ      n+8(FP), CX
	MOVQ      acc+16(FP), DX
	VMOVUPD   (DX), Z0
	VMOVUPD   64(DX), Z1
	VMOVUPD   128(DX), Z2
	VMOVUPD   192(DX), Z3
	SHRQ      $5, CX
	JZ        done
loop:
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VCVTPS2PD 64(SI), Z6
	VCVTPS2PD 96(SI), Z7
	VADDPD    Z4, Z0, Z0
	VADDPD    Z5, Z1, Z1
	VADDPD    Z6, Z2, Z2
	VADDPD    Z7, Z3, Z3
	ADDQ      $128, SI
	DECQ      CX
	JNZ       loop
done:
	VMOVUPD   Z0, (DX)
	VMOVUPD   Z1, 64(DX)
	VMOVUPD   Z2, 128(DX)
	VMOVUPD   Z3, 192(DX)
	VZEROUPPER
	RET

// func sumSqDiffAVX2(src *float32, n int, c float64, acc *[32]float64)
TEXT ·sumSqDiffAVX2(SB), NOSPLIT, $0-32
	MOVQ         src+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD c+16(FP), Y15
	MOVQ         acc+24(FP), DX
	VMOVUPD      (DX), Y0
	VMOVUPD      32(DX), Y1
	VMOVUPD      64(DX), Y2
	VMOVUPD      96(DX), Y3
	VMOVUPD      128(DX), Y4
	VMOVUPD      160(DX), Y5
	VMOVUPD      192(DX), Y6
	VMOVUPD      224(DX), Y7
	SHRQ         $5, CX
	JZ           done
loop:
	VCVTPS2PD    (SI), Y8
	VCVTPS2PD    16(SI), Y9
	VCVTPS2PD    32(SI), Y10
	VCVTPS2PD    48(SI), Y11
	VSUBPD       Y15, Y8, Y8
	VSUBPD       Y15, Y9, Y9
	VSUBPD       Y15, Y10, Y10
	VSUBPD       Y15, Y11, Y11
	VFMADD231PD  Y8, Y8, Y0
	VFMADD231PD  Y9, Y9, Y1
	VFMADD231PD  Y10, Y10, Y2
	VFMADD231PD  Y11, Y11, Y3
	VCVTPS2PD    64(SI), Y8
	VCVTPS2PD    80(SI), Y9
	VCVTPS2PD    96(SI), Y10
	VCVTPS2PD    112(SI), Y11
	VSUBPD       Y15, Y8, Y8
	VSUBPD       Y15, Y9, Y9
	VSUBPD       Y15, Y10, Y10
	VSUBPD       Y15, Y11, Y11
	VFMADD231PD  Y8, Y8, Y4
	VFMADD231PD  Y9, Y9, Y5
	VFMADD231PD  Y10, Y10, Y6
	VFMADD231PD  Y11, Y11, Y7
	ADDQ         $128, SI
	DECQ         CX
	JNZ          loop
done:
	VMOVUPD      Y0, (DX)
	VMOVUPD      Y1, 32(DX)
	VMOVUPD      Y2, 64(DX)
	VMOVUPD      Y3, 96(DX)
	VMOVUPD      Y4, 128(DX)
	VMOVUPD      Y5, 160(DX)
	VMOVUPD      Y6, 192(DX)
	VMOVUPD      Y7, 224(DX)
	VZEROUPPER
	RET

// func sumSqDiffAVX512(src *float32, n int, c float64, acc *[32]float64)
TEXT ·sumSqDiffAVX512(SB), NOSPLIT, $0-32
	MOVQ         src+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD c+16(FP), Z15
	MOVQ         acc+24(FP), DX
	VMOVUPD      (DX), Z0
	VMOVUPD      64(DX), Z1
	VMOVUPD      128(DX), Z2
	VMOVUPD      192(DX), Z3
	SHRQ         $5, CX
	JZ           done
loop:
	VCVTPS2PD    (SI), Z4
	VCVTPS2PD    32(SI), Z5
	VCVTPS2PD    64(SI), Z6
	VCVTPS2PD    96(SI), Z7
	VSUBPD       Z15, Z4, Z4
	VSUBPD       Z15, Z5, Z5
	VSUBPD       Z15, Z6, Z6
	VSUBPD       Z15, Z7, Z7
	VFMADD231PD  Z4, Z4, Z0
	VFMADD231PD  Z5, Z5, Z1
	VFMADD231PD  Z6, Z6, Z2
	VFMADD231PD  Z7, Z7, Z3
	ADDQ         $128, SI
	DECQ         CX
	JNZ          loop
done:
	VMOVUPD      Z0, (DX)
	VMOVUPD      Z1, 64(DX)
	VMOVUPD      Z2, 128(DX)
	VMOVUPD      Z3, 192(DX)
	VZEROUPPER
	RET

// TRANSPOSE16 transposes the 16x16 float32 matrix whose rows are Z0..Z15
// into Z0..Z15 (Z16..Z31 are clobbered), in four rounds: pairs of rows
// interleaved by 32-bit elements; then by 64-bit elements, after which
// Z(4g+c), 128-bit lane l, holds column 4l+c of rows 4g..4g+3; then two
// rounds of 128-bit lane shuffles gather each column's four lanes.
#define TRANSPOSE16 \
	VUNPCKLPS Z1, Z0, Z16; \
	VUNPCKHPS Z1, Z0, Z17; \
	VUNPCKLPS Z3, Z2, Z18; \
	VUNPCKHPS Z3, Z2, Z19; \
	VUNPCKLPS Z5, Z4, Z20; \
	VUNPCKHPS Z5, Z4, Z21; \
	VUNPCKLPS Z7, Z6, Z22; \
	VUNPCKHPS Z7, Z6, Z23; \
	VUNPCKLPS Z9, Z8, Z24; \
	VUNPCKHPS Z9, Z8, Z25; \
	VUNPCKLPS Z11, Z10, Z26; \
	VUNPCKHPS Z11, Z10, Z27; \
	VUNPCKLPS Z13, Z12, Z28; \
	VUNPCKHPS Z13, Z12, Z29; \
	VUNPCKLPS Z15, Z14, Z30; \
	VUNPCKHPS Z15, Z14, Z31; \
	VUNPCKLPD Z18, Z16, Z0; \
	VUNPCKHPD Z18, Z16, Z1; \
	VUNPCKLPD Z19, Z17, Z2; \
	VUNPCKHPD Z19, Z17, Z3; \
	VUNPCKLPD Z22, Z20, Z4; \
	VUNPCKHPD Z22, Z20, Z5; \
	VUNPCKLPD Z23, Z21, Z6; \
	VUNPCKHPD Z23, Z21, Z7; \
	VUNPCKLPD Z26, Z24, Z8; \
	VUNPCKHPD Z26, Z24, Z9; \
	VUNPCKLPD Z27, Z25, Z10; \
	VUNPCKHPD Z27, Z25, Z11; \
	VUNPCKLPD Z30, Z28, Z12; \
	VUNPCKHPD Z30, Z28, Z13; \
	VUNPCKLPD Z31, Z29, Z14; \
	VUNPCKHPD Z31, Z29, Z15; \
	VSHUFF32X4 $0x88, Z4, Z0, Z16; \
	VSHUFF32X4 $0xdd, Z4, Z0, Z20; \
	VSHUFF32X4 $0x88, Z12, Z8, Z24; \
	VSHUFF32X4 $0xdd, Z12, Z8, Z28; \
	VSHUFF32X4 $0x88, Z5, Z1, Z17; \
	VSHUFF32X4 $0xdd, Z5, Z1, Z21; \
	VSHUFF32X4 $0x88, Z13, Z9, Z25; \
	VSHUFF32X4 $0xdd, Z13, Z9, Z29; \
	VSHUFF32X4 $0x88, Z6, Z2, Z18; \
	VSHUFF32X4 $0xdd, Z6, Z2, Z22; \
	VSHUFF32X4 $0x88, Z14, Z10, Z26; \
	VSHUFF32X4 $0xdd, Z14, Z10, Z30; \
	VSHUFF32X4 $0x88, Z7, Z3, Z19; \
	VSHUFF32X4 $0xdd, Z7, Z3, Z23; \
	VSHUFF32X4 $0x88, Z15, Z11, Z27; \
	VSHUFF32X4 $0xdd, Z15, Z11, Z31; \
	VSHUFF32X4 $0x88, Z24, Z16, Z0; \
	VSHUFF32X4 $0xdd, Z24, Z16, Z8; \
	VSHUFF32X4 $0x88, Z28, Z20, Z4; \
	VSHUFF32X4 $0xdd, Z28, Z20, Z12; \
	VSHUFF32X4 $0x88, Z25, Z17, Z1; \
	VSHUFF32X4 $0xdd, Z25, Z17, Z9; \
	VSHUFF32X4 $0x88, Z29, Z21, Z5; \
	VSHUFF32X4 $0xdd, Z29, Z21, Z13; \
	VSHUFF32X4 $0x88, Z26, Z18, Z2; \
	VSHUFF32X4 $0xdd, Z26, Z18, Z10; \
	VSHUFF32X4 $0x88, Z30, Z22, Z6; \
	VSHUFF32X4 $0xdd, Z30, Z22, Z14; \
	VSHUFF32X4 $0x88, Z27, Z19, Z3; \
	VSHUFF32X4 $0xdd, Z27, Z19, Z11; \
	VSHUFF32X4 $0x88, Z31, Z23, Z7; \
	VSHUFF32X4 $0xdd, Z31, Z23, Z15

// LOAD_ROWS16 loads the 16 rows at SI, R9 bytes apart, into Z0..Z15.
#define LOAD_ROWS16 \
	VMOVUPS (SI), Z0;  ADDQ R9, SI; \
	VMOVUPS (SI), Z1;  ADDQ R9, SI; \
	VMOVUPS (SI), Z2;  ADDQ R9, SI; \
	VMOVUPS (SI), Z3;  ADDQ R9, SI; \
	VMOVUPS (SI), Z4;  ADDQ R9, SI; \
	VMOVUPS (SI), Z5;  ADDQ R9, SI; \
	VMOVUPS (SI), Z6;  ADDQ R9, SI; \
	VMOVUPS (SI), Z7;  ADDQ R9, SI; \
	VMOVUPS (SI), Z8;  ADDQ R9, SI; \
	VMOVUPS (SI), Z9;  ADDQ R9, SI; \
	VMOVUPS (SI), Z10; ADDQ R9, SI; \
	VMOVUPS (SI), Z11; ADDQ R9, SI; \
	VMOVUPS (SI), Z12; ADDQ R9, SI; \
	VMOVUPS (SI), Z13; ADDQ R9, SI; \
	VMOVUPS (SI), Z14; ADDQ R9, SI; \
	VMOVUPS (SI), Z15

// func transposeAddBias16AVX512(dst *float32, ldd int, src *float32, lds int, bias *float32)
//
// dst[i*ldd + r] = src[r*lds + i] + bias[i] for i, r < 16 (strides in
// elements): the 16 rows are loaded, transposed in registers
// (TRANSPOSE16) and stored with the bias added, one rounding each, as the
// Go loop.
TEXT ·transposeAddBias16AVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	MOVQ bias+32(FP), DX
	LOAD_ROWS16
	TRANSPOSE16
	VBROADCASTSS 0(DX), Z16
	VADDPS       Z16, Z0, Z0
	VMOVUPS      Z0, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 4(DX), Z16
	VADDPS       Z16, Z1, Z1
	VMOVUPS      Z1, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 8(DX), Z16
	VADDPS       Z16, Z2, Z2
	VMOVUPS      Z2, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 12(DX), Z16
	VADDPS       Z16, Z3, Z3
	VMOVUPS      Z3, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 16(DX), Z16
	VADDPS       Z16, Z4, Z4
	VMOVUPS      Z4, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 20(DX), Z16
	VADDPS       Z16, Z5, Z5
	VMOVUPS      Z5, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 24(DX), Z16
	VADDPS       Z16, Z6, Z6
	VMOVUPS      Z6, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 28(DX), Z16
	VADDPS       Z16, Z7, Z7
	VMOVUPS      Z7, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 32(DX), Z16
	VADDPS       Z16, Z8, Z8
	VMOVUPS      Z8, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 36(DX), Z16
	VADDPS       Z16, Z9, Z9
	VMOVUPS      Z9, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 40(DX), Z16
	VADDPS       Z16, Z10, Z10
	VMOVUPS      Z10, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 44(DX), Z16
	VADDPS       Z16, Z11, Z11
	VMOVUPS      Z11, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 48(DX), Z16
	VADDPS       Z16, Z12, Z12
	VMOVUPS      Z12, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 52(DX), Z16
	VADDPS       Z16, Z13, Z13
	VMOVUPS      Z13, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 56(DX), Z16
	VADDPS       Z16, Z14, Z14
	VMOVUPS      Z14, (DI)
	ADDQ         R8, DI
	VBROADCASTSS 60(DX), Z16
	VADDPS       Z16, Z15, Z15
	VMOVUPS      Z15, (DI)
	VZEROUPPER
	RET

// func widenTranspose16AVX512(dst *float32, src *uint16, lds int)
//
// dst[p*16 + j] = float32(src[j*lds + p]) for j, p < 16 (lds in
// elements): 16 rows of float16 widened exactly as they are loaded, then
// transposed (TRANSPOSE16) and stored contiguously, 16
// rows of 16, the layout of a packed B strip.
TEXT ·widenTranspose16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), R9
	SHLQ $1, R9
	VCVTPH2PS (SI), Z0
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z1
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z2
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z3
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z4
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z5
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z6
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z7
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z8
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z9
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z10
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z11
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z12
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z13
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z14
	ADDQ      R9, SI
	VCVTPH2PS (SI), Z15
	TRANSPOSE16
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	VMOVUPS Z8, 512(DI)
	VMOVUPS Z9, 576(DI)
	VMOVUPS Z10, 640(DI)
	VMOVUPS Z11, 704(DI)
	VMOVUPS Z12, 768(DI)
	VMOVUPS Z13, 832(DI)
	VMOVUPS Z14, 896(DI)
	VMOVUPS Z15, 960(DI)
	VZEROUPPER
	RET

// The bfloat16 rounding constants: Z27 = quiet-NaN bit, Z28 = 0x7fff,
// Z29 = 1, Z30 = 0x7fffffff (magnitude), Z31 = 0x7f800000 (infinity).
#define BF16_CONSTANTS \
	MOVL         $0x00400000, AX; \
	VPBROADCASTD AX, Z27;         \
	MOVL         $0x7fff, AX;     \
	VPBROADCASTD AX, Z28;         \
	MOVL         $1, AX;          \
	VPBROADCASTD AX, Z29;         \
	MOVL         $0x7fffffff, AX; \
	VPBROADCASTD AX, Z30;         \
	MOVL         $0x7f800000, AX; \
	VPBROADCASTD AX, Z31

// ROUND_BF16(x, t): t = the float32 bits x rounded to bfloat16 in its
// high half, to nearest even (x + 0x7fff + the kept lowest bit); a NaN
// keeps its bits with the quiet bit set, as ToBF16. Uses Z26 and K1.
#define ROUND_BF16(x, t) \
	VPSRLD  $16, x, t;          \
	VPANDD  Z29, t, t;          \
	VPADDD  Z28, t, t;          \
	VPADDD  x, t, t;            \
	VPANDD  Z30, x, Z26;        \
	VPCMPUD $6, Z31, Z26, K1;   \
	VPORD   Z27, x, K1, t

// func pairBF16AVX512(dst *uint32, lo, hi *float32, n int)
//
// dst[j] = bf16(lo[j]) | bf16(hi[j])<<16 for j < n, n a multiple of 16.
TEXT ·pairBF16AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ lo+8(FP), SI
	MOVQ hi+16(FP), DX
	MOVQ n+24(FP), CX
	BF16_CONSTANTS
	MOVL         $0xffff0000, AX
	VPBROADCASTD AX, Z25

pairloop:
	VMOVDQU32 (SI), Z0
	VMOVDQU32 (DX), Z1
	ROUND_BF16(Z0, Z2)
	ROUND_BF16(Z1, Z3)
	VPSRLD    $16, Z2, Z2
	VPANDD    Z25, Z3, Z3
	VPORD     Z2, Z3, Z3
	VMOVDQU32 Z3, (DI)
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $64, DI
	SUBQ      $16, CX
	JNZ       pairloop
	VZEROUPPER
	RET

// func roundBF16AVX512(dst *uint16, src *float32, n int)
//
// dst[j] = bf16(src[j]) for j < n, n a multiple of 16.
TEXT ·roundBF16AVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	BF16_CONSTANTS

roundloop:
	VMOVDQU32 (SI), Z0
	ROUND_BF16(Z0, Z2)
	VPSRLD    $16, Z2, Z2
	VPMOVDW   Z2, Y3
	VMOVDQU   Y3, (DI)
	ADDQ      $64, SI
	ADDQ      $32, DI
	SUBQ      $16, CX
	JNZ       roundloop
	VZEROUPPER
	RET

// func transpose16AVX512(dst *uint32, ldd int, src *uint32, lds int)
//
// dst[i*ldd + r] = src[r*lds + i] for i, r < 16, bits moved as they are.
TEXT ·transpose16AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	LOAD_ROWS16
	TRANSPOSE16
	VMOVUPS Z0, (DI)
	ADDQ    R8, DI
	VMOVUPS Z1, (DI)
	ADDQ    R8, DI
	VMOVUPS Z2, (DI)
	ADDQ    R8, DI
	VMOVUPS Z3, (DI)
	ADDQ    R8, DI
	VMOVUPS Z4, (DI)
	ADDQ    R8, DI
	VMOVUPS Z5, (DI)
	ADDQ    R8, DI
	VMOVUPS Z6, (DI)
	ADDQ    R8, DI
	VMOVUPS Z7, (DI)
	ADDQ    R8, DI
	VMOVUPS Z8, (DI)
	ADDQ    R8, DI
	VMOVUPS Z9, (DI)
	ADDQ    R8, DI
	VMOVUPS Z10, (DI)
	ADDQ    R8, DI
	VMOVUPS Z11, (DI)
	ADDQ    R8, DI
	VMOVUPS Z12, (DI)
	ADDQ    R8, DI
	VMOVUPS Z13, (DI)
	ADDQ    R8, DI
	VMOVUPS Z14, (DI)
	ADDQ    R8, DI
	VMOVUPS Z15, (DI)
	VZEROUPPER
	RET

// func winogradIn4AVX512(d0, d1, d2, d3, v0, v1, v2, v3 *float32, n int)
//
// v0 = d0-d2, v1 = d1+d2, v2 = d2-d1, v3 = d1-d3, n a multiple of 16.
TEXT ·winogradIn4AVX512(SB), NOSPLIT, $0-72
	MOVQ d0+0(FP), AX
	MOVQ d1+8(FP), BX
	MOVQ d2+16(FP), CX
	MOVQ d3+24(FP), DX
	MOVQ v0+32(FP), R8
	MOVQ v1+40(FP), R9
	MOVQ v2+48(FP), R10
	MOVQ v3+56(FP), R11
	MOVQ n+64(FP), R12
	XORQ SI, SI

win4loop:
	VMOVUPS (AX)(SI*4), Z0
	VMOVUPS (BX)(SI*4), Z1
	VMOVUPS (CX)(SI*4), Z2
	VMOVUPS (DX)(SI*4), Z3
	VSUBPS  Z2, Z0, Z4
	VADDPS  Z2, Z1, Z5
	VSUBPS  Z1, Z2, Z6
	VSUBPS  Z3, Z1, Z7
	VMOVUPS Z4, (R8)(SI*4)
	VMOVUPS Z5, (R9)(SI*4)
	VMOVUPS Z6, (R10)(SI*4)
	VMOVUPS Z7, (R11)(SI*4)
	ADDQ    $16, SI
	CMPQ    SI, R12
	JLT     win4loop
	VZEROUPPER
	RET

// func winogradOut2AVX512(q0, q1, q2, q3, s0, s1 *float32, n int)
//
// s0 = (q0+q1)+q2, s1 = (q1-q2)-q3, n a multiple of 16.
TEXT ·winogradOut2AVX512(SB), NOSPLIT, $0-56
	MOVQ q0+0(FP), AX
	MOVQ q1+8(FP), BX
	MOVQ q2+16(FP), CX
	MOVQ q3+24(FP), DX
	MOVQ s0+32(FP), R8
	MOVQ s1+40(FP), R9
	MOVQ n+48(FP), R12
	XORQ SI, SI

wout2loop:
	VMOVUPS (AX)(SI*4), Z0
	VMOVUPS (BX)(SI*4), Z1
	VMOVUPS (CX)(SI*4), Z2
	VMOVUPS (DX)(SI*4), Z3
	VADDPS  Z1, Z0, Z4
	VADDPS  Z2, Z4, Z4
	VSUBPS  Z2, Z1, Z5
	VSUBPS  Z3, Z5, Z5
	VMOVUPS Z4, (R8)(SI*4)
	VMOVUPS Z5, (R9)(SI*4)
	ADDQ    $16, SI
	CMPQ    SI, R12
	JLT     wout2loop
	VZEROUPPER
	RET
