// Package torchrng reproduces, bit for bit, the numbers of torch 1.13's CPU
// random generator as diffusers uses it:
//
//	g := torchrng.New(seed)          // torch.Generator("cpu").manual_seed(seed)
//	latents := g.Randn(1, 4, 64, 64) // torch.randn(shape, generator=g)
//	noise := g.Normal(16384)         // a draw by element count, same numbers
//	u := g.Rand(16)                  // torch.rand(16, generator=g)
//
// torch picks its normal kernel by element count: at least 16 elements use
// the vectorised Box-Muller over blocks of 16 (float32, the AVX2 kernel of an
// x86-64 build, emulated here instruction by instruction); fewer than 16 use
// a double-precision scalar Box-Muller that caches its second value. Both are
// implemented, so any sequence of calls matches torch as long as it goes
// through one Generator in the same order.
package torchrng

import "math"

// Generator is the state of one torch.Generator("cpu"); it is not safe for
// concurrent use, like torch's.
type Generator struct {
	mt         mt19937
	haveNormal bool    // torch's cached next_double_normal_sample
	nextNormal float64 // valid when haveNormal
}

// New returns a generator in the state of torch.Generator("cpu").manual_seed(seed).
// Only the low 32 bits of seed matter, as in torch.
func New(seed uint64) *Generator {
	g := &Generator{}
	g.Seed(seed)
	return g
}

// Seed resets g like manual_seed: it reseeds the engine and drops the cached
// scalar-path normal.
func (g *Generator) Seed(seed uint64) {
	g.mt.seed(uint32(seed))
	g.haveNormal = false
	g.nextNormal = 0
}

// uniform24 is torch's float32 uniform_real_distribution(0, 1): 24 random bits.
func (g *Generator) uniform24() float32 {
	return float32(g.mt.next32()&0xFFFFFF) * (1.0 / (1 << 24))
}

// uniform53 is torch's float64 uniform_real_distribution(0, 1) built from a
// 64-bit draw (first output in the high half).
func (g *Generator) uniform53() float64 {
	hi := uint64(g.mt.next32())
	lo := uint64(g.mt.next32())
	return float64((hi<<32|lo)&(1<<53-1)) * (1.0 / (1 << 53))
}

// Rand returns n float32 values like torch.rand(n, generator=g).
func (g *Generator) Rand(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = g.uniform24()
	}
	return out
}

// Randn returns torch.randn(shape, generator=g) as a flat row-major slice;
// only the element count matters for the values.
func (g *Generator) Randn(shape ...int) []float32 {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic("torchrng: negative dimension")
		}
		n *= d
	}
	return g.Normal(n)
}

// Normal returns n standard-normal float32 values exactly as one
// torch.randn call with n elements would.
func (g *Generator) Normal(n int) []float32 {
	out := make([]float32, n)
	if n >= 16 {
		g.normalVector(out)
	} else {
		for i := range out {
			out[i] = float32(g.normalScalar())
		}
	}
	return out
}

// twoPi32 is float32(2*pi), the constant the vector kernel multiplies by.
const twoPi32 float32 = 2 * math.Pi

// normalVector is torch's normal_fill for contiguous float tensors of at
// least 16 elements: uniforms first, then Box-Muller on blocks of 16 (the
// first 8 become cosines, the next 8 sines); a ragged end gets 16 fresh
// uniforms written over the last 16 slots, which are transformed again.
func (g *Generator) normalVector(d []float32) {
	n := len(d)
	for i := range d {
		d[i] = g.uniform24()
	}
	for i := 0; i+16 <= n; i += 16 {
		boxMuller16(d[i : i+16])
	}
	if n%16 != 0 {
		tail := d[n-16:]
		for i := range tail {
			tail[i] = g.uniform24()
		}
		boxMuller16(tail)
	}
}

// boxMuller16 is normal_fill_16_AVX2 with mean 0 and std 1 (the final
// fmadd(n, 1, 0) is the identity).
func boxMuller16(d []float32) {
	for j := 0; j < 8; j++ {
		u1 := 1 - d[j]
		u2 := d[j+8]
		r := float32(math.Sqrt(float64(float32(-2 * log256(u1)))))
		theta := float32(twoPi32 * u2)
		s, c := sincos256(theta)
		d[j] = float32(r * c)
		d[j+8] = float32(r * s)
	}
}

// normalScalar is torch's at::normal_distribution<double> with the cached
// second Box-Muller value, used for tensors of fewer than 16 elements.
func (g *Generator) normalScalar() float64 {
	if g.haveNormal {
		g.haveNormal = false
		return g.nextNormal
	}
	u1 := g.uniform53()
	u2 := g.uniform53()
	r := math.Sqrt(-2 * math.Log1p(-u2))
	theta := 2 * math.Pi * u1
	g.nextNormal = r * math.Sin(theta)
	g.haveNormal = true
	return r * math.Cos(theta)
}
