package vmath

// WinogradIn4 is one step of Winograd F(2x2, 3x3)'s input transform Bᵀ d B
// on rows: v0 = d0-d2, v1 = d1+d2, v2 = d2-d1, v3 = d1-d3, elementwise over
// len(v0) values (every slice at least that long). Every kernel set gives
// the same bits.
func WinogradIn4(d0, d1, d2, d3, v0, v1, v2, v3 []float32) {
	n := len(v0)
	d0, d1, d2, d3, v1, v2, v3 = d0[:n], d1[:n], d2[:n], d3[:n], v1[:n], v2[:n], v3[:n]
	j := 0
	if CurrentImpl() == ImplAVX512 {
		if j = n &^ 15; j > 0 {
			winogradIn4Asm(&d0[0], &d1[0], &d2[0], &d3[0], &v0[0], &v1[0], &v2[0], &v3[0], j)
		}
	}
	for ; j < n; j++ {
		a, b, c, d := d0[j], d1[j], d2[j], d3[j]
		v0[j], v1[j], v2[j], v3[j] = a-c, b+c, c-b, b-d
	}
}

// WinogradOut2 is one step of F(2x2, 3x3)'s output transform Aᵀ m A on
// rows: s0 = (q0+q1)+q2, s1 = (q1-q2)-q3, elementwise over len(s0) values.
// Every kernel set gives the same bits.
func WinogradOut2(q0, q1, q2, q3, s0, s1 []float32) {
	n := len(s0)
	q0, q1, q2, q3, s1 = q0[:n], q1[:n], q2[:n], q3[:n], s1[:n]
	j := 0
	if CurrentImpl() == ImplAVX512 {
		if j = n &^ 15; j > 0 {
			winogradOut2Asm(&q0[0], &q1[0], &q2[0], &q3[0], &s0[0], &s1[0], j)
		}
	}
	for ; j < n; j++ {
		s0[j] = q0[j] + q1[j] + q2[j]
		s1[j] = q1[j] - q2[j] - q3[j]
	}
}
