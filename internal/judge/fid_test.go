package judge

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/imggen/imggen/internal/world"
)

func TestJacobiEigen(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 5, 30} {
		// A random symmetric PSD matrix B B^T (rank deficient when n=30).
		b := newMat(n)
		for i := range b {
			for j := 0; j < n/2+1; j++ {
				b[i][j] = rng.NormFloat64()
			}
		}
		a := newMat(n)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				for k := 0; k < n; k++ {
					a[i][j] += b[i][k] * b[j][k]
				}
			}
		}
		vals, vecs := jacobiEigen(a)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for k := 0; k < n; k++ {
					s += vecs[i][k] * vals[k] * vecs[j][k]
				}
				if math.Abs(s-a[i][j]) > 1e-8*(1+math.Abs(a[i][j])) {
					t.Fatalf("n=%d: V diag V^T [%d][%d] = %g, want %g", n, i, j, s, a[i][j])
				}
			}
		}
		r := symSqrt(a)
		rr := matMul(r, r)
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if math.Abs(rr[i][j]-a[i][j]) > 1e-7*(1+math.Abs(a[i][j])) {
					t.Fatalf("n=%d: sqrt^2 [%d][%d] = %g, want %g", n, i, j, rr[i][j], a[i][j])
				}
			}
		}
	}
}

func TestFrechetDistanceGaussians(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	sample := func(n int, mu, sd float64) [][]float64 {
		xs := make([][]float64, n)
		for i := range xs {
			xs[i] = []float64{mu + sd*rng.NormFloat64(), mu + sd*rng.NormFloat64()}
		}
		return xs
	}
	a := sample(20000, 0, 1)
	if d := FrechetDistance(a, a); d > 1e-9 {
		t.Errorf("FD(a, a) = %g", d)
	}
	// Independent 2-D Gaussians: 2*(mu1-mu2)^2 + 2*(sd1-sd2)^2.
	b := sample(20000, 1, 2)
	if d, want := FrechetDistance(a, b), 2.0+2.0; math.Abs(d-want) > 0.15 {
		t.Errorf("FD = %.3f, want about %.1f", d, want)
	}
	if d := FrechetDistance(a[:1], b); !math.IsNaN(d) {
		t.Errorf("FD with one sample = %g, want NaN", d)
	}
}

func featureSet(imgs []image.Image) [][]float64 {
	var out [][]float64
	for _, img := range imgs {
		f := Features(img)
		out = append(out, f)
	}
	return out
}

// TestFrechetOnRenders: two disjoint sets of rendered scenes are close,
// rendered scenes and noise pictures are far apart.
func TestFrechetOnRenders(t *testing.T) {
	const n = 300
	rng := rand.New(rand.NewPCG(55, 56))
	var a, b, noise []image.Image
	for i := 0; i < n; i++ {
		a = append(a, world.Render(world.RandomTrain(rng), int64(500000+i)))
		b = append(b, world.Render(world.RandomTrain(rng), int64(600000+i)))
		img := image.NewRGBA(image.Rect(0, 0, world.Size, world.Size))
		for p := range img.Pix {
			img.Pix[p] = uint8(rng.IntN(256))
			if p%4 == 3 {
				img.Pix[p] = 255
			}
		}
		noise = append(noise, img)
	}
	fa, fb, fn := featureSet(a), featureSet(b), featureSet(noise)
	if len(fa[0]) != FeatureLen {
		t.Fatalf("%d features, want %d", len(fa[0]), FeatureLen)
	}
	same := FrechetDistance(fa, fb)
	far := FrechetDistance(fa, fn)
	t.Logf("FD(renders, renders) = %.4f, FD(renders, noise) = %.4f", same, far)
	if !(far > 20*same) {
		t.Errorf("noise is not far: %.4f vs %.4f", far, same)
	}
	// Degraded renders lie in between.
	var deg []image.Image
	for i, img := range b {
		deg = append(deg, degrade(img.(*image.RGBA), uint64(i)))
	}
	mid := FrechetDistance(fa, featureSet(deg))
	t.Logf("FD(renders, degraded renders) = %.4f", mid)
	if !(mid > same && mid < far) {
		t.Errorf("degraded renders FD %.4f not between %.4f and %.4f", mid, same, far)
	}
}

func TestMedian9(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 10000; i++ {
		var v [9]float64
		for k := range v {
			v[k] = float64(rng.IntN(20))
		}
		s := v
		sorted := s[:]
		for a := 0; a < 9; a++ {
			for b := a + 1; b < 9; b++ {
				if sorted[b] < sorted[a] {
					sorted[a], sorted[b] = sorted[b], sorted[a]
				}
			}
		}
		if got := median9(&v); got != sorted[4] {
			t.Fatalf("median9 = %v, want %v", got, sorted[4])
		}
	}
}
