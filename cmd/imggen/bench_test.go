package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/pipeline"
)

// TestBenchCommand runs `imggen bench` on the tiny fixture models.
func TestBenchCommand(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		code  int
		check func(t *testing.T, stdout, stderr string)
	}{
		{"json", []string{"bench", "-m", fixture(t, "model-diffusers"), "-W", "64", "-H", "48", "--steps", "2", "--threads", "2", "--json"}, exitOK,
			func(t *testing.T, stdout, stderr string) {
				var r struct {
					Model  string `json:"model"`
					Layout string `json:"layout"`
					Width  int    `json:"width"`
					Height int    `json:"height"`
					Batch  int    `json:"unet_batch"`
					Stages []struct {
						Name    string  `json:"name"`
						Calls   int     `json:"calls"`
						Seconds float64 `json:"seconds"`
						GFLOP   float64 `json:"gflop"`
						GFLOPS  float64 `json:"gflops"`
						PeakRSS int64   `json:"peak_rss_bytes"`
					} `json:"stages"`
					Calls []struct {
						Seconds float64 `json:"seconds"`
						GFLOPS  float64 `json:"gflops"`
					} `json:"unet_calls"`
					Total   float64 `json:"total_seconds"`
					PeakRSS int64   `json:"peak_rss_bytes"`
					Finite  bool    `json:"finite"`
				}
				if strings.Count(stdout, "\n") != 1 {
					t.Errorf("want one JSON line, got %q", stdout)
				}
				if err := json.Unmarshal([]byte(stdout), &r); err != nil {
					t.Fatalf("%v: %s", err, stdout)
				}
				want := []struct {
					name  string
					calls int
				}{{"load", 1}, {"text_encoder", 1}, {"unet", 2}, {"vae_decode", 1}}
				if len(r.Stages) != len(want) {
					t.Fatalf("stages %+v", r.Stages)
				}
				var sum float64
				for i, s := range r.Stages {
					if s.Name != want[i].name || s.Calls != want[i].calls || s.Seconds <= 0 || s.PeakRSS <= 0 {
						t.Errorf("stage %d: %+v", i, s)
					}
					if s.Name != "load" && (s.GFLOP <= 0 || s.GFLOPS <= 0 || s.GFLOPS > 1e5) {
						t.Errorf("stage %s: %g GFLOP at %g GFLOPS", s.Name, s.GFLOP, s.GFLOPS)
					}
					sum += s.Seconds
				}
				if r.Model != "model-diffusers" || r.Layout != "diffusers" || r.Width != 64 || r.Height != 48 || r.Batch != 2 ||
					len(r.Calls) != 2 || !r.Finite || r.Total < sum || r.PeakRSS <= 0 {
					t.Errorf("report %+v", r)
				}
				if !strings.Contains(stderr, "unet call 2/2") {
					t.Errorf("stderr %q", stderr)
				}
			}},
		{"table, no guidance", []string{"bench", "-m", fixture(t, "model-fp16/sd1-tiny.fp16.safetensors"), "-W", "64", "-H", "64", "--steps", "1",
			"--cfg-scale", "1", "--sampler", "ddim", "-q"}, exitOK,
			func(t *testing.T, stdout, stderr string) {
				for _, s := range []string{"sd1-tiny.fp16 (single-file, F16,", "latent 8x8", "ddim, 1 steps, cfg 1 (no guidance)", "vae_decode", "peak RSS"} {
					if !strings.Contains(stdout, s) {
						t.Errorf("table lacks %q:\n%s", s, stdout)
					}
				}
				if stderr != "" {
					t.Errorf("stderr with -q: %q", stderr)
				}
			}},
		{"bad size", []string{"bench", "-m", "x.safetensors", "-W", "100"}, exitUsage, nil},
		{"bad precision", []string{"bench", "-m", "x.safetensors", "--precision", "fp8"}, exitUsage, nil},
		{"bad sampler", []string{"bench", "-m", "x.safetensors", "--sampler", "heun"}, exitUsage, nil},
		{"bad threads", []string{"bench", "-m", "x.safetensors", "--threads", "0"}, exitUsage, nil},
		{"argument", []string{"bench", "-m", "x.safetensors", "a prompt"}, exitUsage, nil},
		{"no model", []string{"bench"}, exitUsage, nil},
		{"missing model", []string{"bench", "-m", "/nonexistent/model.safetensors"}, exitFailure, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envModel, "")
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if tc.check != nil {
				tc.check(t, stdout.String(), stderr.String())
			}
		})
	}
}

// TestBenchBF16: bench --precision bf16 reads the run against the bfloat16
// kernel's ceiling and reports the float32 one beside it (where the CPU
// has AVX-512 BF16; elsewhere it is a usage error).
func TestBenchBF16(t *testing.T) {
	t.Setenv(envModel, "")
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "-m", fixture(t, "model-fp16/sd1-tiny.fp16.safetensors"), "-W", "64", "-H", "64", "--steps", "2",
		"--precision", "bf16", "--json", "-q"}, strings.NewReader(""), &stdout, &stderr)
	if !pipeline.NativeBF16() {
		if code != exitUsage || !strings.Contains(stderr.String(), "AVX-512 BF16") {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
		return
	}
	var r struct {
		Kernels     string  `json:"kernels"`
		Precision   string  `json:"precision"`
		Ceiling     float64 `json:"ceiling_gflops"`
		CeilingFP32 float64 `json:"ceiling_fp32_gflops"`
		Finite      bool    `json:"finite"`
	}
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if r.Precision != "bf16" || !strings.HasSuffix(r.Kernels, "+bf16") || !(r.Ceiling > 0) || !(r.CeilingFP32 > 0) || !r.Finite {
		t.Errorf("report %+v", r)
	}
}
