// Package kernelset names the instruction-set variants of the assembly
// kernels (internal/gemm, internal/vmath) and picks the one to start with.
package kernelset

import (
	"fmt"
	"os"
	"sync/atomic"
)

// Impl names a kernel set; larger is wider.
type Impl int32

const (
	Go     Impl = iota // portable Go
	AVX2               // AVX2 + FMA assembly
	AVX512             // AVX-512 assembly
)

func (im Impl) String() string {
	switch im {
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return "go"
}

// Parse maps "go", "avx2" or "avx512" to an Impl.
func Parse(s string) (Impl, error) {
	for _, im := range []Impl{Go, AVX2, AVX512} {
		if s == im.String() {
			return im, nil
		}
	}
	return Go, fmt.Errorf("unknown kernel set %q (want go, avx2 or avx512)", s)
}

// Best returns the widest set supported runs, capped by the environment
// variable env (avx512, avx2 or go) when it is set; an unknown value is
// ignored, and a set the CPU lacks falls back to the next narrower one.
func Best(env string, supported func(Impl) bool) Impl {
	best := AVX512
	if want, err := Parse(os.Getenv(env)); err == nil {
		best = want
	}
	for best > Go && !supported(best) {
		best--
	}
	return best
}

// Selector holds the kernel set one package runs: the best one the CPU
// supports at start-up (capped by an environment variable), changeable by
// tests and benchmarks.
type Selector struct {
	pkg       string
	supported func(Impl) bool
	cur       atomic.Int32
}

// NewSelector starts with Best(env, supported); pkg names the package in
// errors.
func NewSelector(pkg, env string, supported func(Impl) bool) *Selector {
	s := &Selector{pkg: pkg, supported: supported}
	s.cur.Store(int32(Best(env, supported)))
	return s
}

// Current reports the kernel set in use.
func (s *Selector) Current() Impl { return Impl(s.cur.Load()) }

// Set selects the kernel set for later calls.
func (s *Selector) Set(im Impl) error {
	if !s.supported(im) {
		return fmt.Errorf("%s: kernel set %v not supported here", s.pkg, im)
	}
	s.cur.Store(int32(im))
	return nil
}
