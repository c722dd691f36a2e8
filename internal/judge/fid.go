package judge

import (
	"image"
	"math"

	"github.com/imggen/imggen/internal/world"
)

// FeatureLen is the length of the Features vector.
const FeatureLen = 4*6 + 4*10 + 4

// Features is a fixed description of a picture for distribution distances
// (an FID without a network): for each of four horizontal bands the mean
// and spread of R, G, B and the share of pixels of each palette colour,
// then global gradient and texture statistics. Every entry is roughly in
// [0, 1].
func Features(img image.Image) []float64 {
	r := toRaster(img)
	f := make([]float64, 0, FeatureLen)
	const band = N / 4
	for b := 0; b < 4; b++ {
		var sum, sq px
		for i := b * band * N; i < (b+1)*band*N; i++ {
			for c := 0; c < 3; c++ {
				sum[c] += r[i][c]
				sq[c] += r[i][c] * r[i][c]
			}
		}
		n := float64(band * N)
		for c := 0; c < 3; c++ {
			f = append(f, sum[c]/n/255)
		}
		for c := 0; c < 3; c++ {
			mean := sum[c] / n
			f = append(f, math.Sqrt(max(sq[c]/n-mean*mean, 0))/128)
		}
		hist := make(map[string]float64, len(world.Colours))
		for i := b * band * N; i < (b+1)*band*N; i++ {
			hist[world.ColourName(u8(r[i][0]), u8(r[i][1]), u8(r[i][2]))]++
		}
		for _, c := range world.Colours {
			f = append(f, hist[c]/n)
		}
	}
	var dx, dy, strong, grain float64
	m := median3(r)
	for y := 0; y < N; y++ {
		for x := 0; x < N; x++ {
			p := r[y*N+x]
			gx, gy := l1(p, r.at(x+1, y))/3, l1(p, r.at(x, y+1))/3
			dx += gx
			dy += gy
			if gx+gy > 30 {
				strong++
			}
			grain += l1(p, m[y*N+x]) / 3
		}
	}
	n := float64(N * N)
	return append(f, dx/n/32, dy/n/32, strong/n, grain/n/16)
}

// FrechetDistance is the Fréchet distance between Gaussians fitted to two
// sets of feature vectors: |mu1-mu2|^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)).
// The trace of the square root is computed as Tr sqrt(sqrt(S1) S2 sqrt(S1)),
// which is symmetric, with Jacobi eigen-decompositions. Both sets need at
// least two vectors of the same length.
func FrechetDistance(a, b [][]float64) float64 {
	if len(a) < 2 || len(b) < 2 || len(a[0]) != len(b[0]) {
		return math.NaN()
	}
	mu1, s1 := meanCov(a)
	mu2, s2 := meanCov(b)
	d := 0.0
	for i := range mu1 {
		d += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i])
	}
	n := len(mu1)
	r1 := symSqrt(s1)
	m := matMul(matMul(r1, s2), r1)
	symmetrise(m)
	vals, _ := jacobiEigen(m)
	trSqrt := 0.0
	for _, v := range vals {
		trSqrt += math.Sqrt(max(v, 0)) // tiny negative eigenvalues are rounding
	}
	tr := 0.0
	for i := 0; i < n; i++ {
		tr += s1[i][i] + s2[i][i]
	}
	return max(d+tr-2*trSqrt, 0)
}

func meanCov(xs [][]float64) ([]float64, [][]float64) {
	n, dim := len(xs), len(xs[0])
	mu := make([]float64, dim)
	for _, x := range xs {
		for i, v := range x {
			mu[i] += v / float64(n)
		}
	}
	cov := newMat(dim)
	for _, x := range xs {
		for i := 0; i < dim; i++ {
			di := x[i] - mu[i]
			for j := i; j < dim; j++ {
				cov[i][j] += di * (x[j] - mu[j])
			}
		}
	}
	for i := 0; i < dim; i++ {
		for j := i; j < dim; j++ {
			cov[i][j] /= float64(n - 1)
			cov[j][i] = cov[i][j]
		}
	}
	return mu, cov
}

func newMat(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

func matMul(a, b [][]float64) [][]float64 {
	n := len(a)
	out := newMat(n)
	for i := 0; i < n; i++ {
		for k := 0; k < n; k++ {
			if a[i][k] == 0 {
				continue
			}
			for j := 0; j < n; j++ {
				out[i][j] += a[i][k] * b[k][j]
			}
		}
	}
	return out
}

func symmetrise(m [][]float64) {
	for i := range m {
		for j := i + 1; j < len(m); j++ {
			v := (m[i][j] + m[j][i]) / 2
			m[i][j], m[j][i] = v, v
		}
	}
}

// symSqrt is the PSD square root V diag(sqrt(max(l,0))) V^T of a symmetric
// matrix.
func symSqrt(s [][]float64) [][]float64 {
	vals, vecs := jacobiEigen(s)
	n := len(s)
	out := newMat(n)
	for k := 0; k < n; k++ {
		r := math.Sqrt(max(vals[k], 0))
		if r == 0 {
			continue
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				out[i][j] += r * vecs[i][k] * vecs[j][k]
			}
		}
	}
	return out
}

// jacobiEigen diagonalises a symmetric matrix with cyclic Jacobi rotations;
// it returns the eigenvalues and the eigenvectors as columns. The input is
// not modified.
func jacobiEigen(s [][]float64) ([]float64, [][]float64) {
	n := len(s)
	a := newMat(n)
	v := newMat(n)
	for i := 0; i < n; i++ {
		copy(a[i], s[i])
		v[i][i] = 1
	}
	for sweep := 0; sweep < 100; sweep++ {
		off, diag := 0.0, 0.0
		for i := 0; i < n; i++ {
			diag += a[i][i] * a[i][i]
			for j := i + 1; j < n; j++ {
				off += a[i][j] * a[i][j]
			}
		}
		if off <= 1e-30*max(diag, 1e-300) || off < 1e-300 {
			break
		}
		for p := 0; p < n; p++ {
			for q := p + 1; q < n; q++ {
				if math.Abs(a[p][q]) < 1e-300 {
					continue
				}
				// The rotation that zeroes a[p][q] (Numerical Recipes' stable form).
				theta := (a[q][q] - a[p][p]) / (2 * a[p][q])
				t := 1 / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				if theta < 0 {
					t = -t
				}
				c := 1 / math.Sqrt(t*t+1)
				sn := t * c
				for k := 0; k < n; k++ {
					akp, akq := a[k][p], a[k][q]
					a[k][p] = c*akp - sn*akq
					a[k][q] = sn*akp + c*akq
				}
				for k := 0; k < n; k++ {
					apk, aqk := a[p][k], a[q][k]
					a[p][k] = c*apk - sn*aqk
					a[q][k] = sn*apk + c*aqk
				}
				for k := 0; k < n; k++ {
					vkp, vkq := v[k][p], v[k][q]
					v[k][p] = c*vkp - sn*vkq
					v[k][q] = sn*vkp + c*vkq
				}
			}
		}
	}
	vals := make([]float64, n)
	for i := range vals {
		vals[i] = a[i][i]
	}
	return vals, v
}
