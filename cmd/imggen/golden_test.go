package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/pngout"
	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/vmath"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from this build (assembly kernels only)")

// Golden images of the built-in model are regression snapshots: this
// program wrote them (-update), so they hold it to what it did when they
// were made, not to an independent reference (the diffusers fixtures of
// testdata/e2e are those). On the assembly kernels (AVX2 and AVX-512 give
// the same bits) the pixels must be the snapshot's exactly. The portable Go
// kernels round a few sums differently, which a 20-step sampler carries
// into the last level of a few values, so they may be off by at most
// goldenPortableLevel in at most goldenPortableShare of the values (the
// share measured on the portable kernels is beside each case).
const (
	goldenPortableLevel = 1
	goldenPortableShare = 0.001
)

// goldenCase is one snapshot.
type goldenCase struct {
	name, prompt string
	args         []string
	portable     bool // also checked in the portable build (-tags purego)
	// portableShare, where set, replaces goldenPortableShare: PNDM's
	// multistep update carries more of the portable kernels' rounding.
	portableShare float64
}

var goldenCases = []goldenCase{
	{name: "sunset-sea-oil", prompt: "sunset over the sea, oil painting", // 0.004%
		args: []string{"--seed", "1"}, portable: true},
	{name: "red-boat-eulera", prompt: "a red boat on the sea at sunset", // 0.012%
		args: []string{"--seed", "2", "--sampler", "euler_a"}, portable: true},
	{name: "moon-mountains-ddim", prompt: "night sky with a full moon over mountains", // 0.014%
		args: []string{"--seed", "3", "--sampler", "ddim", "--steps", "25"}},
	{name: "blue-circle-cfg3", prompt: "a small blue circle in the top left of a desert at dawn, pixel art", // 0.004%
		args: []string{"--seed", "4", "--cfg-scale", "3"}},
	{name: "green-tree-pndm", prompt: "a green tree on a hill, watercolor", // 0.216%
		args: []string{"--seed", "5", "--sampler", "pndm"}, portableShare: 0.011},
	{name: "yellow-star-negative", prompt: "a yellow star at night over a lake", // 0.008%
		args: []string{"--seed", "6", "--sampler", "euler", "-n", "blue"}},
	{name: "purple-house-192x128", prompt: "a purple house in a grassy field in the daytime", // 0.015%
		args: []string{"--seed", "7", "-W", "192", "-H", "128"}},
	// The portable build's LMS run.
	{name: "orange-triangle-lms", prompt: "an orange triangle over the sea at dawn, sketch", // 0.043%
		args: []string{"--seed", "8", "--sampler", "lms"}, portable: true},
}

// portableKernelsRunning reports whether the kernels in use are the
// portable ones: in the purego build, or with IMGGEN_GEMM=go or
// IMGGEN_VMATH=go, or on a CPU without AVX2.
func portableKernelsRunning() bool {
	return gemm.CurrentImpl() == gemm.ImplGo || vmath.CurrentImpl() == vmath.ImplGo
}

func TestGoldenImages(t *testing.T) {
	if *update && portableKernelsRunning() {
		t.Fatal("-update writes the snapshots from the assembly kernels only: run it without -tags purego, IMGGEN_GEMM=go or IMGGEN_VMATH=go")
	}
	refcheck.NotEmpty(t, "golden images", len(goldenCases))
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			refcheck.SkipOnPortable(t, tc.portable)
			t.Setenv(envModel, "")
			out := filepath.Join(t.TempDir(), "out.png")
			args := append([]string{tc.prompt, "-o", out, "--quiet"}, tc.args...)
			var stdout, stderr bytes.Buffer
			if code := run(args, strings.NewReader(""), &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			golden := filepath.Join("..", "..", "testdata", "golden", tc.name+".png")
			got, err := pngout.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pngout.Load(golden)
			if err != nil && !*update {
				t.Fatalf("%v (go test ./cmd/imggen -run TestGoldenImages -update makes it)", err)
			}
			if *update {
				// Say what the rewrite changes; write only what changed.
				if want != nil {
					if d, err := pngout.Compare(got, want); err == nil && d.ValuesDiffering == 0 {
						t.Logf("%s: unchanged", golden)
						return
					} else if err == nil {
						t.Logf("%s: rewritten; it differed by up to %d levels in %d values (%.1f dB)", golden, d.MaxLevel, d.ValuesDiffering, d.PSNR())
					} else {
						t.Logf("%s: rewritten; %v", golden, err)
					}
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			d, err := pngout.Compare(got, want)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("max level diff %d, %d of %d values differ (%.1f dB)", d.MaxLevel, d.ValuesDiffering, 3*d.Pixels, d.PSNR())
			if !portableKernelsRunning() {
				if d.ValuesDiffering != 0 {
					t.Errorf("differs from the snapshot %s: up to %d levels in %d values (the assembly kernels must match it exactly)", golden, d.MaxLevel, d.ValuesDiffering)
				}
				return
			}
			share := goldenPortableShare
			if tc.portableShare != 0 {
				share = tc.portableShare
			}
			if d.MaxLevel > goldenPortableLevel || d.ValueFraction() > share {
				t.Errorf("differs from the snapshot %s: up to %d levels in %.3f%% of values (portable kernels: at most %d level in %.1f%%)",
					golden, d.MaxLevel, 100*d.ValueFraction(), goldenPortableLevel, 100*share)
			}
		})
	}
}
