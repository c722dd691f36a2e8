//go:build !purego && amd64

#include "textflag.h"

// Micro-kernels. Each computes one 6-row tile of C:
//
//	C[i,j] = fma(A[i,p], B[p,j], C[i,j])   for p = 0..kc-1 in order
//
// starting from C (flags&1 != 0) or from +0 (flags == 0). A element (i,p)
// is at a + 4*(i*rs + p*cs), rs and cs in elements, so the same code reads
// A in place (rs = lda, cs = 1) or packed (rs = 1, cs = 6). B is packed in
// 16-column strips: row p of a strip is the 64 bytes at b + 64*p; the
// 32- and 48-wide kernels read their next 16 columns from the strips at
// b + 4*bn and b + 8*bn.
// C row i starts at c + 4*i*ldc.
//
// Every lane runs the same chain of single-rounding FMAs, so neither the
// tile width nor the instruction set changes a single bit of the result.
//
// Registers common to all kernels:
//	CX  remaining k steps
//	SI  &A[0,p], R12 = &A[3,p]; rows 1,2 (4,5) are at + R8, + 2*R8
//	R8  rs in bytes, R9 cs in bytes
//	DX  &B[p,0] (BX &B[p,16] in the 32-wide kernel)
//	DI  &C[0,0], R13 = &C[3,0], R10 ldc in bytes
//	AX, R11 prefetch pointers (R11 holds flags until the accumulators
//	    are set up)
// The loops are unrolled four times; A advances by cs each step since its
// stride is not a constant.

// SETUP loads the arguments shared by all kernels (B, bn differ).
#define SETUP \
	MOVQ kc+0(FP), CX;     \
	MOVQ a+8(FP), SI;      \
	MOVQ rs+16(FP), R8;    \
	MOVQ cs+24(FP), R9;    \
	MOVQ b+32(FP), DX;     \
	SHLQ $2, R8;           \
	SHLQ $2, R9;           \
	LEAQ (SI)(R8*2), R12;  \
	ADDQ R8, R12

// CROWS sets DI, R13 and R10 from c and ldc.
#define CROWS \
	SHLQ $2, R10;          \
	LEAQ (DI)(R10*2), R13; \
	ADDQ R10, R13

// PREFETCH_NEXT_C asks for the first line of each row of the C tile six
// rows down, usually the next tile the caller runs, so that its loads do
// not stall the start of the next call (C blocks do not stay in L2). A
// prefetch past the end of C is harmless.
#define PREFETCH_NEXT_C \
	LEAQ       (R13)(R10*2), AX; \
	ADDQ       R10, AX;          \
	LEAQ       (AX)(R10*2), R11; \
	ADDQ       R10, R11;         \
	PREFETCHT0 (AX);             \
	PREFETCHT0 (AX)(R10*1);      \
	PREFETCHT0 (AX)(R10*2);      \
	PREFETCHT0 (R11);            \
	PREFETCHT0 (R11)(R10*1);     \
	PREFETCHT0 (R11)(R10*2)

// Each kernel prefetches a stream of six rows into L2 (PREFETCHT1) as it
// runs (the pf, pfs, pstep arguments): rows pf, pf+pfs, ... pf+5*pfs
// (bytes), each advanced by pstep bytes every four k steps. For A read in
// place the caller names the tile below, usually the next one it runs:
// the first pass over a block otherwise waits on six short streams from
// memory. For a float16 A, which the kernels read widened, it names the
// float16 rows of the block it will widen next, so that they arrive while
// this one computes (see worker.block). Not into L1, where with lda*4 a
// multiple of 4 KiB all twelve rows would share a set. PF_SETUP points AX
// and R11 at rows 0 and 3 and keeps pfs in R14.
#define PF_SETUP(pfarg, pfsarg) \
	MOVQ pfarg, AX;        \
	MOVQ pfsarg, R14;      \
	LEAQ (AX)(R14*2), R11; \
	ADDQ R14, R11

// NEXT_TILE moves the argument slots of a column kernel's A, C and
// prefetch stream six rows down (R8, R10 and R14 hold their row strides in
// bytes).
#define NEXT_TILE(aslot, cslot, pfslot) \
	MOVQ aslot, SI;            \
	LEAQ (SI)(R8*4), SI;       \
	LEAQ (SI)(R8*2), SI;       \
	MOVQ SI, aslot;            \
	MOVQ cslot, DI;            \
	LEAQ (DI)(R10*4), DI;      \
	LEAQ (DI)(R10*2), DI;      \
	MOVQ DI, cslot;            \
	MOVQ pfslot, AX;           \
	LEAQ (AX)(R14*4), AX;      \
	LEAQ (AX)(R14*2), AX;      \
	MOVQ AX, pfslot

#define PREFETCH_PF(steparg) \
	PREFETCHT1 (AX);         \
	PREFETCHT1 (AX)(R14*1);  \
	PREFETCHT1 (AX)(R14*2);  \
	PREFETCHT1 (R11);        \
	PREFETCHT1 (R11)(R14*1); \
	PREFETCHT1 (R11)(R14*2); \
	ADDQ       steparg, AX;  \
	ADDQ       steparg, R11

// KERN_AVX512N is the body of the AVX-512 column kernels with A read
// through rs and cs (kern6x32AVX512N and its wider twins), for the tile
// macros of one width: R15 holds 4*bn (strip h at DX + h*R15), so the
// tile count lives in its argument slot.
#define KERN_AVX512N(STEP, ZERO, LOAD, STORE) \
ntile: \
	MOVQ       kc+8(FP), CX; \
	MOVQ       a+16(FP), SI; \
	MOVQ       rs+24(FP), R8; \
	MOVQ       cs+32(FP), R9; \
	MOVQ       b+40(FP), DX; \
	SHLQ       $2, R8; \
	SHLQ       $2, R9; \
	LEAQ       (SI)(R8*2), R12; \
	ADDQ       R8, R12; \
	MOVQ       bn+48(FP), R15; \
	SHLQ       $2, R15; \
	LEAQ       (DX)(R15*1), BX; \
	MOVQ       c+56(FP), DI; \
	MOVQ       ldc+64(FP), R10; \
	MOVQ       flags+72(FP), R11; \
	CROWS; \
	TESTQ      R11, R11; \
	JNZ        load; \
	ZERO; \
	JMP        start; \
load: \
	LOAD; \
start: \
	PREFETCH_NEXT_C; \
	PREFETCHT0 64(AX); \
	PREFETCHT0 64(AX)(R10*1); \
	PREFETCHT0 64(AX)(R10*2); \
	PREFETCHT0 64(R11); \
	PREFETCHT0 64(R11)(R10*1); \
	PREFETCHT0 64(R11)(R10*2); \
	PF_SETUP(pf+80(FP), pfs+88(FP)); \
	CMPQ       CX, $4; \
	JLT        tail; \
loop: \
	PREFETCH_PF(pstep+96(FP)); \
	STEP(0); \
	STEP(64); \
	STEP(128); \
	STEP(192); \
	ADDQ       $256, DX; \
	ADDQ       $256, BX; \
	SUBQ       $4, CX; \
	CMPQ       CX, $4; \
	JGE        loop; \
tail: \
	TESTQ      CX, CX; \
	JZ         store; \
loopt: \
	STEP(0); \
	ADDQ       $64, DX; \
	ADDQ       $64, BX; \
	DECQ       CX; \
	JNZ        loopt; \
store: \
	STORE; \
	NEXT_TILE(a+16(FP), c+56(FP), pf+80(FP)); \
	DECQ       tiles+0(FP); \
	JNZ        ntile; \
	VZEROUPPER; \
	RET

// KERN_AVX512NOFF is the body of the AVX-512 column kernels with an
// offset A (kern6x32AVX512NOff and its wider twins), for the tile macros
// of one width: R8 holds 4*bn (strip h at DX + h*R8), R15 each step's
// offset.
#define KERN_AVX512NOFF(STEP, ZERO, LOAD, STORE) \
	MOVQ       tiles+0(FP), AX; \
	MOVQ       ldc+56(FP), R10; \
	SHLQ       $2, R10; \
	MOVQ       a+16(FP), SI; \
	MOVQ       c+48(FP), DI; \
otile: \
	MOVQ       kc+8(FP), CX; \
	MOVQ       off+24(FP), R14; \
	MOVQ       b+32(FP), DX; \
	MOVQ       bn+40(FP), R8; \
	SHLQ       $2, R8; \
	LEAQ       (DX)(R8*1), BX; \
	MOVQ       flags+64(FP), R11; \
	LEAQ       (DI)(R10*2), R13; \
	ADDQ       R10, R13; \
	TESTQ      R11, R11; \
	JNZ        oload; \
	ZERO; \
	JMP        ostart; \
oload: \
	LOAD; \
ostart: \
	LEAQ       (R13)(R10*2), R11; \
	ADDQ       R10, R11; \
	LEAQ       (R11)(R10*2), R15; \
	ADDQ       R10, R15; \
	PREFETCHT0 (R11); \
	PREFETCHT0 64(R11); \
	PREFETCHT0 (R11)(R10*1); \
	PREFETCHT0 64(R11)(R10*1); \
	PREFETCHT0 (R11)(R10*2); \
	PREFETCHT0 64(R11)(R10*2); \
	PREFETCHT0 (R15); \
	PREFETCHT0 64(R15); \
	PREFETCHT0 (R15)(R10*1); \
	PREFETCHT0 64(R15)(R10*1); \
	PREFETCHT0 (R15)(R10*2); \
	PREFETCHT0 64(R15)(R10*2); \
	CMPQ       CX, $4; \
	JLT        otail; \
oloop: \
	STEP(0, 0); \
	STEP(64, 8); \
	STEP(128, 16); \
	STEP(192, 24); \
	ADDQ       $256, DX; \
	ADDQ       $256, BX; \
	ADDQ       $32, R14; \
	SUBQ       $4, CX; \
	CMPQ       CX, $4; \
	JGE        oloop; \
otail: \
	TESTQ      CX, CX; \
	JZ         ostore; \
oloopt: \
	STEP(0, 0); \
	ADDQ       $64, DX; \
	ADDQ       $64, BX; \
	ADDQ       $8, R14; \
	DECQ       CX; \
	JNZ        oloopt; \
ostore: \
	STORE; \
	ADDQ       $24, SI; \
	LEAQ       (DI)(R10*4), DI; \
	LEAQ       (DI)(R10*2), DI; \
	DECQ       AX; \
	JNZ        otile; \
	VZEROUPPER; \
	RET

// ---------------------------------------------------------------------
// AVX-512, 6x32: Z0..Z11 accumulate (row i in Z(2i), Z(2i+1)), Z12/Z13
// hold a row of the two B strips, Z14..Z19 the broadcast A values.
#define STEP6x32(off) \
	VMOVUPS      off(DX), Z12;     \
	VMOVUPS      off(BX), Z13;     \
	VBROADCASTSS (SI), Z14;        \
	VBROADCASTSS (SI)(R8*1), Z15;  \
	VBROADCASTSS (SI)(R8*2), Z16;  \
	VBROADCASTSS (R12), Z17;       \
	VBROADCASTSS (R12)(R8*1), Z18; \
	VBROADCASTSS (R12)(R8*2), Z19; \
	VFMADD231PS  Z14, Z12, Z0;     \
	VFMADD231PS  Z14, Z13, Z1;     \
	VFMADD231PS  Z15, Z12, Z2;     \
	VFMADD231PS  Z15, Z13, Z3;     \
	VFMADD231PS  Z16, Z12, Z4;     \
	VFMADD231PS  Z16, Z13, Z5;     \
	VFMADD231PS  Z17, Z12, Z6;     \
	VFMADD231PS  Z17, Z13, Z7;     \
	VFMADD231PS  Z18, Z12, Z8;     \
	VFMADD231PS  Z18, Z13, Z9;     \
	VFMADD231PS  Z19, Z12, Z10;    \
	VFMADD231PS  Z19, Z13, Z11;    \
	ADDQ         R9, SI;           \
	ADDQ         R9, R12

// ZERO_C32Z, LOAD_C32Z and STORE_C32Z set, load and store the 6x32
// tile's accumulators Z0..Z11 (row i in Z(2i), Z(2i+1); rows at DI and
// R13, R10 bytes apart).
#define ZERO_C32Z \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11

#define LOAD_C32Z \
	VMOVUPS (DI), Z0; \
	VMOVUPS 64(DI), Z1; \
	VMOVUPS (DI)(R10*1), Z2; \
	VMOVUPS 64(DI)(R10*1), Z3; \
	VMOVUPS (DI)(R10*2), Z4; \
	VMOVUPS 64(DI)(R10*2), Z5; \
	VMOVUPS (R13), Z6; \
	VMOVUPS 64(R13), Z7; \
	VMOVUPS (R13)(R10*1), Z8; \
	VMOVUPS 64(R13)(R10*1), Z9; \
	VMOVUPS (R13)(R10*2), Z10; \
	VMOVUPS 64(R13)(R10*2), Z11

#define STORE_C32Z \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, 64(DI); \
	VMOVUPS Z2, (DI)(R10*1); \
	VMOVUPS Z3, 64(DI)(R10*1); \
	VMOVUPS Z4, (DI)(R10*2); \
	VMOVUPS Z5, 64(DI)(R10*2); \
	VMOVUPS Z6, (R13); \
	VMOVUPS Z7, 64(R13); \
	VMOVUPS Z8, (R13)(R10*1); \
	VMOVUPS Z9, 64(R13)(R10*1); \
	VMOVUPS Z10, (R13)(R10*2); \
	VMOVUPS Z11, 64(R13)(R10*2)

// func kern6x32AVX512N(tiles int, kc int, a *float32, rs int, cs int, b *float32, bn int, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)
//
// The 6x32 kernel on tiles 6-row tiles stacked down the same two B
// strips, like kern6x16AVX2N: tile t reads A from a + 4*6*t*rs and writes
// C at c + 4*6*t*ldc, each with exactly the one-tile chain. One call per
// column of tiles saves a Go call and set-up per tile, a quarter of the
// time of the k = 40 attention scores. The tile count, a, c and pf
// advance in their argument slots (KERN_AVX512N).
TEXT ·kern6x32AVX512N(SB), NOSPLIT, $0-104
	KERN_AVX512N(STEP6x32, ZERO_C32Z, LOAD_C32Z, STORE_C32Z)

// ---------------------------------------------------------------------
// AVX-512, 6x48: Z0..Z17 accumulate (row i in Z(3i)..Z(3i+2)), Z18..Z20
// hold a row of the three B strips (at DX, BX and BX+R15), Z21..Z26 the
// broadcast A values. It runs the last three strips of an odd count, so
// that the last strip gets the latency cover of 18 accumulators and the A
// values are broadcast once for 48 columns, not once for 32 and again for
// 16: attention's P·V with 40-wide heads (SD 1.x) is all such strips.
// FMA6x48: the 18 multiply-adds of one k step of the 6x48 kernels.
#define FMA6x48 \
	VFMADD231PS  Z21, Z18, Z0; \
	VFMADD231PS  Z21, Z19, Z1; \
	VFMADD231PS  Z21, Z20, Z2; \
	VFMADD231PS  Z22, Z18, Z3; \
	VFMADD231PS  Z22, Z19, Z4; \
	VFMADD231PS  Z22, Z20, Z5; \
	VFMADD231PS  Z23, Z18, Z6; \
	VFMADD231PS  Z23, Z19, Z7; \
	VFMADD231PS  Z23, Z20, Z8; \
	VFMADD231PS  Z24, Z18, Z9; \
	VFMADD231PS  Z24, Z19, Z10; \
	VFMADD231PS  Z24, Z20, Z11; \
	VFMADD231PS  Z25, Z18, Z12; \
	VFMADD231PS  Z25, Z19, Z13; \
	VFMADD231PS  Z25, Z20, Z14; \
	VFMADD231PS  Z26, Z18, Z15; \
	VFMADD231PS  Z26, Z19, Z16; \
	VFMADD231PS  Z26, Z20, Z17

#define STEP6x48(off) \
	VMOVUPS      off(DX), Z18; \
	VMOVUPS      off(BX), Z19; \
	VMOVUPS      off(BX)(R15*1), Z20; \
	VBROADCASTSS (SI), Z21; \
	VBROADCASTSS (SI)(R8*1), Z22; \
	VBROADCASTSS (SI)(R8*2), Z23; \
	VBROADCASTSS (R12), Z24; \
	VBROADCASTSS (R12)(R8*1), Z25; \
	VBROADCASTSS (R12)(R8*2), Z26; \
	FMA6x48; \
	ADDQ         R9, SI; \
	ADDQ         R9, R12

#define ZERO_C48Z \
	ZERO_C32Z; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17

#define LOAD_C48Z \
	VMOVUPS (DI), Z0; \
	VMOVUPS 64(DI), Z1; \
	VMOVUPS.Z 128(DI), K1, Z2; \
	VMOVUPS (DI)(R10*1), Z3; \
	VMOVUPS 64(DI)(R10*1), Z4; \
	VMOVUPS.Z 128(DI)(R10*1), K1, Z5; \
	VMOVUPS (DI)(R10*2), Z6; \
	VMOVUPS 64(DI)(R10*2), Z7; \
	VMOVUPS.Z 128(DI)(R10*2), K1, Z8; \
	VMOVUPS (R13), Z9; \
	VMOVUPS 64(R13), Z10; \
	VMOVUPS.Z 128(R13), K1, Z11; \
	VMOVUPS (R13)(R10*1), Z12; \
	VMOVUPS 64(R13)(R10*1), Z13; \
	VMOVUPS.Z 128(R13)(R10*1), K1, Z14; \
	VMOVUPS (R13)(R10*2), Z15; \
	VMOVUPS 64(R13)(R10*2), Z16; \
	VMOVUPS.Z 128(R13)(R10*2), K1, Z17

#define STORE_C48Z \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, 64(DI); \
	VMOVUPS Z2, K1, 128(DI); \
	VMOVUPS Z3, (DI)(R10*1); \
	VMOVUPS Z4, 64(DI)(R10*1); \
	VMOVUPS Z5, K1, 128(DI)(R10*1); \
	VMOVUPS Z6, (DI)(R10*2); \
	VMOVUPS Z7, 64(DI)(R10*2); \
	VMOVUPS Z8, K1, 128(DI)(R10*2); \
	VMOVUPS Z9, (R13); \
	VMOVUPS Z10, 64(R13); \
	VMOVUPS Z11, K1, 128(R13); \
	VMOVUPS Z12, (R13)(R10*1); \
	VMOVUPS Z13, 64(R13)(R10*1); \
	VMOVUPS Z14, K1, 128(R13)(R10*1); \
	VMOVUPS Z15, (R13)(R10*2); \
	VMOVUPS Z16, 64(R13)(R10*2); \
	VMOVUPS Z17, K1, 128(R13)(R10*2)

// func kern6x48AVX512N(tiles int, kc int, a *float32, rs int, cs int, b *float32, bn int, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int, mask int)
//
// kern6x32AVX512N with a third strip at b + 8*bn. The third strip's columns are
// loaded and stored under mask (K1): its valid columns, so that a product
// 33 to 47 wide writes no column past C.
TEXT ·kern6x48AVX512N(SB), NOSPLIT, $0-112
	MOVQ  mask+104(FP), AX
	KMOVW AX, K1
	KERN_AVX512N(STEP6x48, ZERO_C48Z, LOAD_C48Z, STORE_C48Z)

// ---------------------------------------------------------------------
// AVX-512, 6x64: Z0..Z23 accumulate (row i in Z(4i)..Z(4i+3)), Z24..Z27
// hold a row of the four B strips (at DX, BX, BX+R15 and BX+2*R15),
// Z28..Z31 the broadcast A values (rows 4 and 5 reuse the first two). It
// takes panels four strips at a time, so that channel counts that are
// multiples of 64 (every layer of SD's U-Nets and VAEs) need no 32-wide
// call (see stripStepAt).
// FMA6x64A and FMA6x64B: the multiply-adds of one k step of the 6x64
// kernels, rows 0-3 and rows 4-5 (whose A values reuse Z28 and Z29).
#define FMA6x64A \
	VFMADD231PS  Z28, Z24, Z0; \
	VFMADD231PS  Z28, Z25, Z1; \
	VFMADD231PS  Z28, Z26, Z2; \
	VFMADD231PS  Z28, Z27, Z3; \
	VFMADD231PS  Z29, Z24, Z4; \
	VFMADD231PS  Z29, Z25, Z5; \
	VFMADD231PS  Z29, Z26, Z6; \
	VFMADD231PS  Z29, Z27, Z7; \
	VFMADD231PS  Z30, Z24, Z8; \
	VFMADD231PS  Z30, Z25, Z9; \
	VFMADD231PS  Z30, Z26, Z10; \
	VFMADD231PS  Z30, Z27, Z11; \
	VFMADD231PS  Z31, Z24, Z12; \
	VFMADD231PS  Z31, Z25, Z13; \
	VFMADD231PS  Z31, Z26, Z14; \
	VFMADD231PS  Z31, Z27, Z15

#define FMA6x64B \
	VFMADD231PS  Z28, Z24, Z16; \
	VFMADD231PS  Z28, Z25, Z17; \
	VFMADD231PS  Z28, Z26, Z18; \
	VFMADD231PS  Z28, Z27, Z19; \
	VFMADD231PS  Z29, Z24, Z20; \
	VFMADD231PS  Z29, Z25, Z21; \
	VFMADD231PS  Z29, Z26, Z22; \
	VFMADD231PS  Z29, Z27, Z23

#define STEP6x64(off) \
	VMOVUPS      off(DX), Z24; \
	VMOVUPS      off(BX), Z25; \
	VMOVUPS      off(BX)(R15*1), Z26; \
	VMOVUPS      off(BX)(R15*2), Z27; \
	VBROADCASTSS (SI), Z28; \
	VBROADCASTSS (SI)(R8*1), Z29; \
	VBROADCASTSS (SI)(R8*2), Z30; \
	VBROADCASTSS (R12), Z31; \
	FMA6x64A; \
	VBROADCASTSS (R12)(R8*1), Z28; \
	VBROADCASTSS (R12)(R8*2), Z29; \
	FMA6x64B; \
	ADDQ         R9, SI; \
	ADDQ         R9, R12

#define ZERO_C64Z \
	ZERO_C48Z; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

#define LOAD_C64Z \
	VMOVUPS (DI), Z0; \
	VMOVUPS 64(DI), Z1; \
	VMOVUPS 128(DI), Z2; \
	VMOVUPS 192(DI), Z3; \
	VMOVUPS (DI)(R10*1), Z4; \
	VMOVUPS 64(DI)(R10*1), Z5; \
	VMOVUPS 128(DI)(R10*1), Z6; \
	VMOVUPS 192(DI)(R10*1), Z7; \
	VMOVUPS (DI)(R10*2), Z8; \
	VMOVUPS 64(DI)(R10*2), Z9; \
	VMOVUPS 128(DI)(R10*2), Z10; \
	VMOVUPS 192(DI)(R10*2), Z11; \
	VMOVUPS (R13), Z12; \
	VMOVUPS 64(R13), Z13; \
	VMOVUPS 128(R13), Z14; \
	VMOVUPS 192(R13), Z15; \
	VMOVUPS (R13)(R10*1), Z16; \
	VMOVUPS 64(R13)(R10*1), Z17; \
	VMOVUPS 128(R13)(R10*1), Z18; \
	VMOVUPS 192(R13)(R10*1), Z19; \
	VMOVUPS (R13)(R10*2), Z20; \
	VMOVUPS 64(R13)(R10*2), Z21; \
	VMOVUPS 128(R13)(R10*2), Z22; \
	VMOVUPS 192(R13)(R10*2), Z23

#define STORE_C64Z \
	VMOVUPS Z0, (DI); \
	VMOVUPS Z1, 64(DI); \
	VMOVUPS Z2, 128(DI); \
	VMOVUPS Z3, 192(DI); \
	VMOVUPS Z4, (DI)(R10*1); \
	VMOVUPS Z5, 64(DI)(R10*1); \
	VMOVUPS Z6, 128(DI)(R10*1); \
	VMOVUPS Z7, 192(DI)(R10*1); \
	VMOVUPS Z8, (DI)(R10*2); \
	VMOVUPS Z9, 64(DI)(R10*2); \
	VMOVUPS Z10, 128(DI)(R10*2); \
	VMOVUPS Z11, 192(DI)(R10*2); \
	VMOVUPS Z12, (R13); \
	VMOVUPS Z13, 64(R13); \
	VMOVUPS Z14, 128(R13); \
	VMOVUPS Z15, 192(R13); \
	VMOVUPS Z16, (R13)(R10*1); \
	VMOVUPS Z17, 64(R13)(R10*1); \
	VMOVUPS Z18, 128(R13)(R10*1); \
	VMOVUPS Z19, 192(R13)(R10*1); \
	VMOVUPS Z20, (R13)(R10*2); \
	VMOVUPS Z21, 64(R13)(R10*2); \
	VMOVUPS Z22, 128(R13)(R10*2); \
	VMOVUPS Z23, 192(R13)(R10*2)

// func kern6x64AVX512N(tiles int, kc int, a *float32, rs int, cs int, b *float32, bn int, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)
//
// kern6x48AVX512N with a fourth strip at b + 12*bn and without a mask:
// it runs only where all 64 columns are C's.
TEXT ·kern6x64AVX512N(SB), NOSPLIT, $0-104
	KERN_AVX512N(STEP6x64, ZERO_C64Z, LOAD_C64Z, STORE_C64Z)

// ---------------------------------------------------------------------
// AVX-512, 6x16: Z0..Z5 accumulate, Z6 holds a row of the B strip,
// Z7..Z12 the broadcast A values. Runs a last odd strip.
#define STEP6x16Z(off) \
	VMOVUPS      off(DX), Z6;      \
	VBROADCASTSS (SI), Z7;         \
	VBROADCASTSS (SI)(R8*1), Z8;   \
	VBROADCASTSS (SI)(R8*2), Z9;   \
	VBROADCASTSS (R12), Z10;       \
	VBROADCASTSS (R12)(R8*1), Z11; \
	VBROADCASTSS (R12)(R8*2), Z12; \
	VFMADD231PS  Z7, Z6, Z0;       \
	VFMADD231PS  Z8, Z6, Z1;       \
	VFMADD231PS  Z9, Z6, Z2;       \
	VFMADD231PS  Z10, Z6, Z3;      \
	VFMADD231PS  Z11, Z6, Z4;      \
	VFMADD231PS  Z12, Z6, Z5;      \
	ADDQ         R9, SI;           \
	ADDQ         R9, R12

// func kern6x16AVX512(kc int, a *float32, rs int, cs int, b *float32, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)
TEXT ·kern6x16AVX512(SB), NOSPLIT, $0-88
	SETUP
	MOVQ c+40(FP), DI
	MOVQ ldc+48(FP), R10
	MOVQ flags+56(FP), R11
	CROWS

	TESTQ R11, R11
	JNZ   load16z
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	JMP    start16z

load16z:
	VMOVUPS (DI), Z0
	VMOVUPS (DI)(R10*1), Z1
	VMOVUPS (DI)(R10*2), Z2
	VMOVUPS (R13), Z3
	VMOVUPS (R13)(R10*1), Z4
	VMOVUPS (R13)(R10*2), Z5

start16z:
	PREFETCH_NEXT_C
	PF_SETUP(pf+64(FP), pfs+72(FP))
	CMPQ CX, $4
	JLT  tail16z

loop16z:
	PREFETCH_PF(pstep+80(FP))
	STEP6x16Z(0)
	STEP6x16Z(64)
	STEP6x16Z(128)
	STEP6x16Z(192)
	ADDQ $256, DX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop16z

tail16z:
	TESTQ CX, CX
	JZ    store16z

loop16zt:
	STEP6x16Z(0)
	ADDQ $64, DX
	DECQ CX
	JNZ  loop16zt

store16z:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, (DI)(R10*1)
	VMOVUPS Z2, (DI)(R10*2)
	VMOVUPS Z3, (R13)
	VMOVUPS Z4, (R13)(R10*1)
	VMOVUPS Z5, (R13)(R10*2)
	VZEROUPPER
	RET

// ZERO_C16Y, LOAD_C16Y and STORE_C16Y set, load and store the 6x16 tile's
// accumulators Y0..Y11 (row i in Y(2i), Y(2i+1); rows at DI and R13, R10
// bytes apart).
#define ZERO_C16Y \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
	VXORPS Y8, Y8, Y8; \
	VXORPS Y9, Y9, Y9; \
	VXORPS Y10, Y10, Y10; \
	VXORPS Y11, Y11, Y11

#define LOAD_C16Y \
	VMOVUPS (DI), Y0; \
	VMOVUPS 32(DI), Y1; \
	VMOVUPS (DI)(R10*1), Y2; \
	VMOVUPS 32(DI)(R10*1), Y3; \
	VMOVUPS (DI)(R10*2), Y4; \
	VMOVUPS 32(DI)(R10*2), Y5; \
	VMOVUPS (R13), Y6; \
	VMOVUPS 32(R13), Y7; \
	VMOVUPS (R13)(R10*1), Y8; \
	VMOVUPS 32(R13)(R10*1), Y9; \
	VMOVUPS (R13)(R10*2), Y10; \
	VMOVUPS 32(R13)(R10*2), Y11

#define STORE_C16Y \
	VMOVUPS Y0, (DI); \
	VMOVUPS Y1, 32(DI); \
	VMOVUPS Y2, (DI)(R10*1); \
	VMOVUPS Y3, 32(DI)(R10*1); \
	VMOVUPS Y4, (DI)(R10*2); \
	VMOVUPS Y5, 32(DI)(R10*2); \
	VMOVUPS Y6, (R13); \
	VMOVUPS Y7, 32(R13); \
	VMOVUPS Y8, (R13)(R10*1); \
	VMOVUPS Y9, 32(R13)(R10*1); \
	VMOVUPS Y10, (R13)(R10*2); \
	VMOVUPS Y11, 32(R13)(R10*2)

// ---------------------------------------------------------------------
// AVX2+FMA, 6x16: Y0..Y11 accumulate (row i in Y(2i), Y(2i+1)), Y12/Y13
// hold a row of the B strip, Y14/Y15 alternate as broadcast A values: all
// 16 ymm registers in use.
#define STEP6x16Y(off) \
	VMOVUPS      off(DX), Y12;     \
	VMOVUPS      off+32(DX), Y13;  \
	VBROADCASTSS (SI), Y14;        \
	VFMADD231PS  Y14, Y12, Y0;     \
	VFMADD231PS  Y14, Y13, Y1;     \
	VBROADCASTSS (SI)(R8*1), Y15;  \
	VFMADD231PS  Y15, Y12, Y2;     \
	VFMADD231PS  Y15, Y13, Y3;     \
	VBROADCASTSS (SI)(R8*2), Y14;  \
	VFMADD231PS  Y14, Y12, Y4;     \
	VFMADD231PS  Y14, Y13, Y5;     \
	VBROADCASTSS (R12), Y15;       \
	VFMADD231PS  Y15, Y12, Y6;     \
	VFMADD231PS  Y15, Y13, Y7;     \
	VBROADCASTSS (R12)(R8*1), Y14; \
	VFMADD231PS  Y14, Y12, Y8;     \
	VFMADD231PS  Y14, Y13, Y9;     \
	VBROADCASTSS (R12)(R8*2), Y15; \
	VFMADD231PS  Y15, Y12, Y10;    \
	VFMADD231PS  Y15, Y13, Y11;    \
	ADDQ         R9, SI;           \
	ADDQ         R9, R12

// func kern6x16AVX2(kc int, a *float32, rs int, cs int, b *float32, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)
TEXT ·kern6x16AVX2(SB), NOSPLIT, $0-88
	SETUP
	MOVQ c+40(FP), DI
	MOVQ ldc+48(FP), R10
	MOVQ flags+56(FP), R11
	CROWS

	TESTQ R11, R11
	JNZ   load16y
	ZERO_C16Y
	JMP    start16y

load16y:
	LOAD_C16Y

start16y:
	PREFETCH_NEXT_C
	PF_SETUP(pf+64(FP), pfs+72(FP))
	CMPQ CX, $4
	JLT  tail16y

loop16y:
	PREFETCH_PF(pstep+80(FP))
	STEP6x16Y(0)
	STEP6x16Y(64)
	STEP6x16Y(128)
	STEP6x16Y(192)
	ADDQ $256, DX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop16y

tail16y:
	TESTQ CX, CX
	JZ    store16y

loop16yt:
	STEP6x16Y(0)
	ADDQ $64, DX
	DECQ CX
	JNZ  loop16yt

store16y:
	STORE_C16Y
	VZEROUPPER
	RET

// func kern6x16AVX2N(tiles int, kc int, a *float32, rs int, cs int, b *float32, c *float32, ldc int, flags int, pf uintptr, pfs int, pstep int)
//
// kern6x16AVX2 on tiles 6-row tiles stacked down the same B strip: tile t
// reads A from a + 4*6*t*rs and writes C at c + 4*6*t*ldc; every tile is
// exactly the single-tile kernel's chain. One call per column of tiles
// saves the Go call and set-up per tile, which matters for short kc (the
// k = 40 of attention scores). BX counts tiles; a, c and the prefetch
// stream pf (six rows per tile) advance in their argument slots.
TEXT ·kern6x16AVX2N(SB), NOSPLIT, $0-96
	MOVQ tiles+0(FP), BX
	MOVQ rs+24(FP), R8
	MOVQ cs+32(FP), R9
	MOVQ ldc+56(FP), R10
	SHLQ $2, R8
	SHLQ $2, R9
	SHLQ $2, R10

ntile16y:
	MOVQ kc+8(FP), CX
	MOVQ a+16(FP), SI
	MOVQ b+40(FP), DX
	MOVQ c+48(FP), DI
	MOVQ flags+64(FP), R11
	LEAQ (SI)(R8*2), R12
	ADDQ R8, R12
	LEAQ (DI)(R10*2), R13
	ADDQ R10, R13

	TESTQ R11, R11
	JNZ   nload16y
	ZERO_C16Y
	JMP    nstart16y

nload16y:
	LOAD_C16Y

nstart16y:
	PREFETCH_NEXT_C
	PF_SETUP(pf+72(FP), pfs+80(FP))
	CMPQ CX, $4
	JLT  ntail16y

nloop16y:
	PREFETCH_PF(pstep+88(FP))
	STEP6x16Y(0)
	STEP6x16Y(64)
	STEP6x16Y(128)
	STEP6x16Y(192)
	ADDQ $256, DX
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  nloop16y

ntail16y:
	TESTQ CX, CX
	JZ    nstore16y

nloop16yt:
	STEP6x16Y(0)
	ADDQ $64, DX
	DECQ CX
	JNZ  nloop16yt

nstore16y:
	STORE_C16Y

	NEXT_TILE(a+16(FP), c+48(FP), pf+72(FP))
	DECQ BX
	JNZ  ntile16y
	VZEROUPPER
	RET

// STEP6x16O is STEP6x16Y with A read through an offset table: A(r, p) is
// the float at SI + 4*(off[p] + r), off[p] being the int at R14 + toff
// (loaded into R15). Six consecutive floats: one or two cache lines.
#define STEP6x16O(boff, toff) \
	MOVQ         toff(R14), R15;       \
	VMOVUPS      boff(DX), Y12;        \
	VMOVUPS      boff+32(DX), Y13;     \
	VBROADCASTSS (SI)(R15*4), Y14;     \
	VFMADD231PS  Y14, Y12, Y0;         \
	VFMADD231PS  Y14, Y13, Y1;         \
	VBROADCASTSS 4(SI)(R15*4), Y15;    \
	VFMADD231PS  Y15, Y12, Y2;         \
	VFMADD231PS  Y15, Y13, Y3;         \
	VBROADCASTSS 8(SI)(R15*4), Y14;    \
	VFMADD231PS  Y14, Y12, Y4;         \
	VFMADD231PS  Y14, Y13, Y5;         \
	VBROADCASTSS 12(SI)(R15*4), Y15;   \
	VFMADD231PS  Y15, Y12, Y6;         \
	VFMADD231PS  Y15, Y13, Y7;         \
	VBROADCASTSS 16(SI)(R15*4), Y14;   \
	VFMADD231PS  Y14, Y12, Y8;         \
	VFMADD231PS  Y14, Y13, Y9;         \
	VBROADCASTSS 20(SI)(R15*4), Y15;   \
	VFMADD231PS  Y15, Y12, Y10;        \
	VFMADD231PS  Y15, Y13, Y11

// func kern6x16AVX2NOff(tiles int, kc int, a *float32, off *int, b *float32, c *float32, ldc int, flags int)
//
// kern6x16AVX2N with A(i, p) = a[off[p] + i]: the rows of A are 6
// consecutive floats at a per-p offset, as the output pixels of a 3x3
// convolution read each (channel, ky, kx) of the padded image. Tile t
// covers rows 6t..6t+5. Every C element gets the packed kernel's chain.
TEXT ·kern6x16AVX2NOff(SB), NOSPLIT, $0-64
	MOVQ tiles+0(FP), BX
	MOVQ ldc+48(FP), R10
	SHLQ $2, R10
	MOVQ a+16(FP), SI

otile16y:
	MOVQ kc+8(FP), CX
	MOVQ off+24(FP), R14
	MOVQ b+32(FP), DX
	MOVQ c+40(FP), DI
	MOVQ flags+56(FP), R11
	LEAQ (DI)(R10*2), R13
	ADDQ R10, R13

	TESTQ R11, R11
	JNZ   oload16y
	ZERO_C16Y
	JMP    ostart16y

oload16y:
	LOAD_C16Y

ostart16y:
	PREFETCH_NEXT_C
	CMPQ CX, $4
	JLT  otail16y

oloop16y:
	STEP6x16O(0, 0)
	STEP6x16O(64, 8)
	STEP6x16O(128, 16)
	STEP6x16O(192, 24)
	ADDQ $256, DX
	ADDQ $32, R14
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  oloop16y

otail16y:
	TESTQ CX, CX
	JZ    ostore16y

oloop16yt:
	STEP6x16O(0, 0)
	ADDQ $64, DX
	ADDQ $8, R14
	DECQ CX
	JNZ  oloop16yt

ostore16y:
	STORE_C16Y

	ADDQ $24, SI
	MOVQ c+40(FP), DI
	LEAQ (DI)(R10*4), DI
	LEAQ (DI)(R10*2), DI
	MOVQ DI, c+40(FP)
	DECQ BX
	JNZ  otile16y
	VZEROUPPER
	RET

// STEP6x32O is STEP6x32 with A read through an offset table: A(r, p) is
// the float at SI + 4*(off[p] + r), off[p] being the int at R14 + toff
// (loaded into R15).
#define STEP6x32O(boff, toff) \
	MOVQ         toff(R14), R15;     \
	VMOVUPS      boff(DX), Z12;      \
	VMOVUPS      boff(BX), Z13;      \
	VBROADCASTSS (SI)(R15*4), Z14;   \
	VBROADCASTSS 4(SI)(R15*4), Z15;  \
	VBROADCASTSS 8(SI)(R15*4), Z16;  \
	VBROADCASTSS 12(SI)(R15*4), Z17; \
	VBROADCASTSS 16(SI)(R15*4), Z18; \
	VBROADCASTSS 20(SI)(R15*4), Z19; \
	VFMADD231PS  Z14, Z12, Z0;       \
	VFMADD231PS  Z14, Z13, Z1;       \
	VFMADD231PS  Z15, Z12, Z2;       \
	VFMADD231PS  Z15, Z13, Z3;       \
	VFMADD231PS  Z16, Z12, Z4;       \
	VFMADD231PS  Z16, Z13, Z5;       \
	VFMADD231PS  Z17, Z12, Z6;       \
	VFMADD231PS  Z17, Z13, Z7;       \
	VFMADD231PS  Z18, Z12, Z8;       \
	VFMADD231PS  Z18, Z13, Z9;       \
	VFMADD231PS  Z19, Z12, Z10;      \
	VFMADD231PS  Z19, Z13, Z11

// ---------------------------------------------------------------------
// AVX-512, 6x16 with an offset A: the product of a convolution with few
// output channels (a VAE's last, 3), one strip whose columns are loaded and
// stored under mask (K1), so that no A tile has to be packed first.
#define ZERO_C16Z \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5

#define LOAD_C16ZK \
	VMOVUPS.Z (DI), K1, Z0; \
	VMOVUPS.Z (DI)(R10*1), K1, Z1; \
	VMOVUPS.Z (DI)(R10*2), K1, Z2; \
	VMOVUPS.Z (R13), K1, Z3; \
	VMOVUPS.Z (R13)(R10*1), K1, Z4; \
	VMOVUPS.Z (R13)(R10*2), K1, Z5

#define STORE_C16ZK \
	VMOVUPS Z0, K1, (DI); \
	VMOVUPS Z1, K1, (DI)(R10*1); \
	VMOVUPS Z2, K1, (DI)(R10*2); \
	VMOVUPS Z3, K1, (R13); \
	VMOVUPS Z4, K1, (R13)(R10*1); \
	VMOVUPS Z5, K1, (R13)(R10*2)

#define STEP6x16ZO(boff, toff) \
	MOVQ         toff(R14), R15; \
	VMOVUPS      boff(DX), Z6; \
	VBROADCASTSS (SI)(R15*4), Z7; \
	VBROADCASTSS 4(SI)(R15*4), Z8; \
	VBROADCASTSS 8(SI)(R15*4), Z9; \
	VBROADCASTSS 12(SI)(R15*4), Z10; \
	VBROADCASTSS 16(SI)(R15*4), Z11; \
	VBROADCASTSS 20(SI)(R15*4), Z12; \
	VFMADD231PS  Z7, Z6, Z0; \
	VFMADD231PS  Z8, Z6, Z1; \
	VFMADD231PS  Z9, Z6, Z2; \
	VFMADD231PS  Z10, Z6, Z3; \
	VFMADD231PS  Z11, Z6, Z4; \
	VFMADD231PS  Z12, Z6, Z5

// func kern6x16AVX512NOff(tiles int, kc int, a *float32, off *int, b *float32, bn int, c *float32, ldc int, flags int, mask int)
TEXT ·kern6x16AVX512NOff(SB), NOSPLIT, $0-80
	MOVQ  mask+72(FP), AX
	KMOVW AX, K1
	KERN_AVX512NOFF(STEP6x16ZO, ZERO_C16Z, LOAD_C16ZK, STORE_C16ZK)

// func kern6x32AVX512NOff(tiles int, kc int, a *float32, off *int, b *float32, bn int, c *float32, ldc int, flags int)
//
// kern6x32AVX512 on tiles 6-row tiles down the same two B strips (the
// second at b + 4*bn), with A(i, p) = a[off[p] + i] read in place, as
// kern6x16AVX2NOff. Packing each tile of such an A first (six floats per
// k step, one copy each) cost more than a tenth of a 3x3 convolution.
TEXT ·kern6x32AVX512NOff(SB), NOSPLIT, $0-72
	KERN_AVX512NOFF(STEP6x32O, ZERO_C32Z, LOAD_C32Z, STORE_C32Z)

#define STEP6x48O(boff, toff) \
	MOVQ         toff(R14), R15; \
	VMOVUPS      boff(DX), Z18; \
	VMOVUPS      boff(BX), Z19; \
	VMOVUPS      boff(BX)(R8*1), Z20; \
	VBROADCASTSS (SI)(R15*4), Z21; \
	VBROADCASTSS 4(SI)(R15*4), Z22; \
	VBROADCASTSS 8(SI)(R15*4), Z23; \
	VBROADCASTSS 12(SI)(R15*4), Z24; \
	VBROADCASTSS 16(SI)(R15*4), Z25; \
	VBROADCASTSS 20(SI)(R15*4), Z26; \
	FMA6x48

// func kern6x48AVX512NOff(tiles int, kc int, a *float32, off *int, b *float32, bn int, c *float32, ldc int, flags int, mask int)
//
// kern6x32AVX512NOff with a third strip at b + 8*bn (R8 holds 4*bn), its
// columns loaded and stored under mask as in kern6x48AVX512N.
TEXT ·kern6x48AVX512NOff(SB), NOSPLIT, $0-80
	MOVQ  mask+72(FP), AX
	KMOVW AX, K1
	KERN_AVX512NOFF(STEP6x48O, ZERO_C48Z, LOAD_C48Z, STORE_C48Z)

#define STEP6x64O(boff, toff) \
	MOVQ         toff(R14), R15; \
	VMOVUPS      boff(DX), Z24; \
	VMOVUPS      boff(BX), Z25; \
	VMOVUPS      boff(BX)(R8*1), Z26; \
	VMOVUPS      boff(BX)(R8*2), Z27; \
	VBROADCASTSS (SI)(R15*4), Z28; \
	VBROADCASTSS 4(SI)(R15*4), Z29; \
	VBROADCASTSS 8(SI)(R15*4), Z30; \
	VBROADCASTSS 12(SI)(R15*4), Z31; \
	FMA6x64A; \
	VBROADCASTSS 16(SI)(R15*4), Z28; \
	VBROADCASTSS 20(SI)(R15*4), Z29; \
	FMA6x64B

// func kern6x64AVX512NOff(tiles int, kc int, a *float32, off *int, b *float32, bn int, c *float32, ldc int, flags int)
//
// kern6x48AVX512NOff with a fourth strip at b + 12*bn and without a mask.
TEXT ·kern6x64AVX512NOff(SB), NOSPLIT, $0-72
	KERN_AVX512NOFF(STEP6x64O, ZERO_C64Z, LOAD_C64Z, STORE_C64Z)

// func fmaPeak(n int)
//
// n rounds of 12 independent 8-wide FMAs on registers only: the most this
// core can multiply-add, the ceiling the kernels are measured against
// (BenchmarkFMAPeak).
TEXT ·fmaPeak(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	ZERO_C16Y
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13

peak:
	VFMADD231PS Y12, Y13, Y0
	VFMADD231PS Y12, Y13, Y1
	VFMADD231PS Y12, Y13, Y2
	VFMADD231PS Y12, Y13, Y3
	VFMADD231PS Y12, Y13, Y4
	VFMADD231PS Y12, Y13, Y5
	VFMADD231PS Y12, Y13, Y6
	VFMADD231PS Y12, Y13, Y7
	VFMADD231PS Y12, Y13, Y8
	VFMADD231PS Y12, Y13, Y9
	VFMADD231PS Y12, Y13, Y10
	VFMADD231PS Y12, Y13, Y11
	DECQ        CX
	JNZ         peak
	VZEROUPPER
	RET

// VDPBF16PS Zdst, Zb, Za (Zdst += the pairs of Za times those of Zb), for
// the registers STEP6x32BF16 uses. The Go assembler does not know the
// AVX-512 BF16 instructions, so they are spelled as bytes, as GNU as
// encodes "vdpbf16ps %zmmB, %zmmA, %zmmDST".
#define DPBF16_Z0_Z12_Z14 BYTE $0x62; BYTE $0xd2; BYTE $0x0e; BYTE $0x48; BYTE $0x52; BYTE $0xc4
#define DPBF16_Z1_Z13_Z14 BYTE $0x62; BYTE $0xd2; BYTE $0x0e; BYTE $0x48; BYTE $0x52; BYTE $0xcd
#define DPBF16_Z2_Z12_Z15 BYTE $0x62; BYTE $0xd2; BYTE $0x06; BYTE $0x48; BYTE $0x52; BYTE $0xd4
#define DPBF16_Z3_Z13_Z15 BYTE $0x62; BYTE $0xd2; BYTE $0x06; BYTE $0x48; BYTE $0x52; BYTE $0xdd
#define DPBF16_Z4_Z12_Z16 BYTE $0x62; BYTE $0xd2; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE $0xe4
#define DPBF16_Z5_Z13_Z16 BYTE $0x62; BYTE $0xd2; BYTE $0x7e; BYTE $0x40; BYTE $0x52; BYTE $0xed
#define DPBF16_Z6_Z12_Z17 BYTE $0x62; BYTE $0xd2; BYTE $0x76; BYTE $0x40; BYTE $0x52; BYTE $0xf4
#define DPBF16_Z7_Z13_Z17 BYTE $0x62; BYTE $0xd2; BYTE $0x76; BYTE $0x40; BYTE $0x52; BYTE $0xfd
#define DPBF16_Z8_Z12_Z18 BYTE $0x62; BYTE $0x52; BYTE $0x6e; BYTE $0x40; BYTE $0x52; BYTE $0xc4
#define DPBF16_Z9_Z13_Z18 BYTE $0x62; BYTE $0x52; BYTE $0x6e; BYTE $0x40; BYTE $0x52; BYTE $0xcd
#define DPBF16_Z10_Z12_Z19 BYTE $0x62; BYTE $0x52; BYTE $0x66; BYTE $0x40; BYTE $0x52; BYTE $0xd4
#define DPBF16_Z11_Z13_Z19 BYTE $0x62; BYTE $0x52; BYTE $0x66; BYTE $0x40; BYTE $0x52; BYTE $0xdd

// STEP6x32BF16 is STEP6x32O on bfloat16 pairs: each 32-bit word of A
// (two values of one row) is broadcast and multiplied pairwise into the
// float32 accumulators with VDPBF16PS; one step covers two rows of K.
#define STEP6x32BF16(boff, toff) \
	MOVQ         toff(R14), R15;     \
	VMOVUPS      boff(DX), Z12;      \
	VMOVUPS      boff(BX), Z13;      \
	VBROADCASTSS (SI)(R15*4), Z14;   \
	VBROADCASTSS 4(SI)(R15*4), Z15;  \
	VBROADCASTSS 8(SI)(R15*4), Z16;  \
	VBROADCASTSS 12(SI)(R15*4), Z17; \
	VBROADCASTSS 16(SI)(R15*4), Z18; \
	VBROADCASTSS 20(SI)(R15*4), Z19; \
	DPBF16_Z0_Z12_Z14;               \
	DPBF16_Z1_Z13_Z14;               \
	DPBF16_Z2_Z12_Z15;               \
	DPBF16_Z3_Z13_Z15;               \
	DPBF16_Z4_Z12_Z16;               \
	DPBF16_Z5_Z13_Z16;               \
	DPBF16_Z6_Z12_Z17;               \
	DPBF16_Z7_Z13_Z17;               \
	DPBF16_Z8_Z12_Z18;               \
	DPBF16_Z9_Z13_Z18;               \
	DPBF16_Z10_Z12_Z19;              \
	DPBF16_Z11_Z13_Z19

// func kern6x32BF16NOff(tiles int, kc int, a *uint32, off *int, b *uint32, bn int, c *float32, ldc int, flags int)
//
// kern6x32AVX512NOff on bfloat16 pairs (see bf16.go): kc pair steps, A's
// pair (i, q) at a[off[q] + i], B's two strips of 16 pairs per step at b
// and b + 4*bn, C float32. Needs AVX-512 BF16.
TEXT ·kern6x32BF16NOff(SB), NOSPLIT, $0-72
	MOVQ tiles+0(FP), AX
	MOVQ ldc+56(FP), R10
	SHLQ $2, R10
	MOVQ a+16(FP), SI
	MOVQ c+48(FP), DI

btile32:
	MOVQ kc+8(FP), CX
	MOVQ off+24(FP), R14
	MOVQ b+32(FP), DX
	MOVQ bn+40(FP), BX
	LEAQ (DX)(BX*4), BX
	MOVQ flags+64(FP), R11
	LEAQ (DI)(R10*2), R13
	ADDQ R10, R13

	TESTQ R11, R11
	JNZ   bload32
	ZERO_C32Z
	JMP    bstart32

bload32:
	LOAD_C32Z

bstart32:
	CMPQ CX, $4
	JLT  btail32

bloop32:
	STEP6x32BF16(0, 0)
	STEP6x32BF16(64, 8)
	STEP6x32BF16(128, 16)
	STEP6x32BF16(192, 24)
	ADDQ $256, DX
	ADDQ $256, BX
	ADDQ $32, R14
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  bloop32

btail32:
	TESTQ CX, CX
	JZ    bstore32

bloop32t:
	STEP6x32BF16(0, 0)
	ADDQ $64, DX
	ADDQ $64, BX
	ADDQ $8, R14
	DECQ CX
	JNZ  bloop32t

bstore32:
	STORE_C32Z

	ADDQ $24, SI
	LEAQ (DI)(R10*4), DI
	LEAQ (DI)(R10*2), DI
	DECQ AX
	JNZ  btile32
	VZEROUPPER
	RET
