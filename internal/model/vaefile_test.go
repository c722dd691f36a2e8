package model

import (
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/imggen/imggen/internal/refcheck"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/vae"
	"github.com/imggen/imggen/internal/weights"
)

// decodeWith decodes a fixed latent with m's autoencoder.
func decodeWith(t *testing.T, m *Model) []float32 {
	t.Helper()
	v, err := vae.Load(m.VAE, weights.NewLoader(m.VAEWeights))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	z := tensor.New(1, m.VAE.LatentChannels, 4, 6)
	for i := range z.Data {
		z.Data[i] = float32(r.NormFloat64())
	}
	return v.Decode(z).Data
}

// TestReplaceVAE: a VAE file in diffusers or original naming, with or
// without the first_stage_model. prefix, replaces the checkpoint's; here it
// holds the same weights, so the decoder gives the same bits.
func TestReplaceVAE(t *testing.T) {
	plain := load(t, diffusersIn)
	want := decodeWith(t, plain)

	dir := t.TempDir()
	var ldm, bare []rawTensor
	for _, r := range fixtureTensors(t, fp16File) {
		if rest, ok := strings.CutPrefix(r.name, ldmVAE); ok {
			ldm = append(ldm, r)
			r.name = rest
			bare = append(bare, r)
		}
	}
	writeSafetensors(t, filepath.Join(dir, "ldm.safetensors"), ldm)
	writeSafetensors(t, filepath.Join(dir, "bare.safetensors"), bare)

	for _, tc := range []struct{ name, model, vae string }{
		{"diffusers names into a single file", fp16File, diffusersIn + "/vae/diffusion_pytorch_model.safetensors"},
		{"LDM names into a folder", diffusersIn, filepath.Join(dir, "ldm.safetensors")},
		{"LDM names without the prefix", diffusersIn, filepath.Join(dir, "bare.safetensors")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Load(tc.model, Options{VAE: tc.vae})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			// The model's own scaling factor and sample size are kept.
			if own := load(t, tc.model).VAE; !reflect.DeepEqual(m.VAE, own) {
				t.Errorf("config\n got %+v\nwant %+v", m.VAE, own)
			}
			refcheck.Bitwise(t, "decoded", decodeWith(t, m), want)
		})
	}

	for _, tc := range []struct{ name, vae, want string }{
		{"not a VAE", diffusersIn + "/text_encoder/model.safetensors", "not an autoencoder's"},
		{"pickle", filepath.Join(dir, "vae.pt"), "pickle"},
		{"missing", filepath.Join(dir, "none.safetensors"), "none.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load(diffusersIn, Options{VAE: tc.vae}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
