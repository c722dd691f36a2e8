package kernelset

import (
	"strings"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	for _, im := range []Impl{Go, AVX2, AVX512} {
		got, err := Parse(im.String())
		if err != nil || got != im {
			t.Fatalf("Parse(%q) = %v, %v", im.String(), got, err)
		}
	}
	if _, err := Parse("sse"); err == nil {
		t.Fatal("Parse accepted an unknown set")
	}
}

func TestBest(t *testing.T) {
	upTo := func(top Impl) func(Impl) bool { return func(im Impl) bool { return im <= top } }
	tests := []struct {
		env  string
		cpu  Impl // widest set the CPU runs
		want Impl
	}{
		{"", AVX512, AVX512},
		{"", AVX2, AVX2},
		{"", Go, Go},
		{"avx2", AVX512, AVX2},
		{"go", AVX512, Go},
		{"avx512", AVX2, AVX2}, // asked for more than the CPU has
		{"bogus", AVX2, AVX2},  // unknown values are ignored
	}
	for _, tc := range tests {
		t.Setenv("IMGGEN_TEST_KERNELS", tc.env)
		if got := Best("IMGGEN_TEST_KERNELS", upTo(tc.cpu)); got != tc.want {
			t.Errorf("env %q, cpu %v: got %v, want %v", tc.env, tc.cpu, got, tc.want)
		}
	}
}

func TestSelector(t *testing.T) {
	t.Setenv("IMGGEN_TEST_KERNELS", "avx2")
	s := NewSelector("pkg", "IMGGEN_TEST_KERNELS", func(im Impl) bool { return im != AVX512 })
	if s.Current() != AVX2 {
		t.Fatalf("started with %v, want avx2 (the cap)", s.Current())
	}
	if err := s.Set(Go); err != nil || s.Current() != Go {
		t.Errorf("Set(go): %v, current %v", err, s.Current())
	}
	if err := s.Set(AVX512); err == nil || !strings.Contains(err.Error(), "pkg: kernel set avx512 not supported") || s.Current() != Go {
		t.Errorf("Set(avx512): %v, current %v", err, s.Current())
	}
}
