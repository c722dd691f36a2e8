package nn

// MatMul computes c[m,n] = a[m,k] · b[k,n] (row-major, c overwritten).
// Every element is summed over k in increasing order, so the split across
// threads does not change a single bit.
func MatMul(c, a, b []float32, m, n, k int) {
	if m == 0 || n == 0 {
		return
	}
	_ = c[m*n-1]
	if k == 0 {
		clear(c[:m*n])
		return
	}
	_, _ = a[m*k-1], b[k*n-1]
	// Split rows when there are enough of them, else columns.
	if m >= 2*Threads() || m >= n {
		parallelFor(m, 1, func(lo, hi int) { matMulBlock(c, a, b, lo, hi, 0, n, n, k) })
		return
	}
	parallelFor(n, 16, func(lo, hi int) { matMulBlock(c, a, b, 0, m, lo, hi, n, k) })
}

// kBlock keeps a block of B rows in cache while it is applied to rows of C.
const kBlock = 256

func matMulBlock(c, a, b []float32, i0, i1, j0, j1, n, k int) {
	for i := i0; i < i1; i++ {
		clear(c[i*n+j0 : i*n+j1])
	}
	for p0 := 0; p0 < k; p0 += kBlock {
		p1 := min(p0+kBlock, k)
		for i := i0; i < i1; i++ {
			crow := c[i*n+j0 : i*n+j1]
			arow := a[i*k : i*k+k]
			p := p0
			for ; p+4 <= p1; p += 4 {
				axpy4(crow, b[p*n+j0:p*n+j1], b[(p+1)*n+j0:(p+1)*n+j1], b[(p+2)*n+j0:(p+2)*n+j1], b[(p+3)*n+j0:(p+3)*n+j1],
					arow[p], arow[p+1], arow[p+2], arow[p+3])
			}
			for ; p < p1; p++ {
				axpy(crow, b[p*n+j0:p*n+j1], arow[p])
			}
		}
	}
}

// axpy4 adds four scaled rows to y, in order, so each element sees the same
// sequence of roundings as four separate axpy calls.
func axpy4(y, x0, x1, x2, x3 []float32, a0, a1, a2, a3 float32) {
	n := len(y)
	x0, x1, x2, x3 = x0[:n], x1[:n], x2[:n], x3[:n]
	for j := range y {
		s := y[j] + a0*x0[j]
		s += a1 * x1[j]
		s += a2 * x2[j]
		y[j] = s + a3*x3[j]
	}
}

func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for j := range y {
		y[j] += a * x[j]
	}
}

// Transpose writes the transpose of a[rows, cols] into dst[cols, rows].
func Transpose(dst, a []float32, rows, cols int) {
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			dst[j*rows+i] = a[i*cols+j]
		}
	}
}
