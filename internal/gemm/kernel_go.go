package gemm

// kernGo is the portable micro-kernel: the 6 x w tile (w = 16 or 32)
//
//	C[i,j] = C[i,j] + float32(A[i,p]*B[p,j])   for p = 0..kc-1 in order,
//
// starting from C when load is set, else from +0. Unlike the assembly it
// rounds the product and the sum separately: Go has no float32 FMA, an
// exact software one is ten times slower, and float32(math.FMA(...)) on
// float64 rounds twice (rarely but really differing from a true FMA). The
// explicit conversion keeps the compiler from fusing on arm64 and
// friends, so this path gives the same bits on every platform, and, like
// the others, for any thread count and blocking.
//
// A element (i,p) is a[i*rs+p*cs]; B element (p,j) is b[p*16+j] for
// j < 16, else b[bn+p*16+j-16] (two packed strips); C element (i,j) is
// c[i*ldc+j].
func kernGo(w, kc int, a []float32, rs, cs int, b []float32, bn int, c []float32, ldc int, load bool) {
	for i := 0; i < mr; i++ {
		ai := a[i*rs:]
		for h := 0; h < w; h += sw {
			var acc [sw]float32
			crow := c[i*ldc+h : i*ldc+h+sw]
			if load {
				copy(acc[:], crow)
			}
			bs := b[h/sw*bn:]
			// Four steps per pass over acc, to spend fewer loads and
			// stores of acc per multiply-add.
			p := 0
			for ; p+4 <= kc; p += 4 {
				a0, a1, a2, a3 := ai[p*cs], ai[(p+1)*cs], ai[(p+2)*cs], ai[(p+3)*cs]
				b0 := bs[p*sw : p*sw+sw]
				b1 := bs[(p+1)*sw : (p+1)*sw+sw]
				b2 := bs[(p+2)*sw : (p+2)*sw+sw]
				b3 := bs[(p+3)*sw : (p+3)*sw+sw]
				for j := range acc {
					s := acc[j] + float32(a0*b0[j])
					s += float32(a1 * b1[j])
					s += float32(a2 * b2[j])
					acc[j] = s + float32(a3*b3[j])
				}
			}
			for ; p < kc; p++ {
				a0 := ai[p*cs]
				b0 := bs[p*sw : p*sw+sw]
				for j := range acc {
					acc[j] += float32(a0 * b0[j])
				}
			}
			copy(crow, acc[:])
		}
	}
}
