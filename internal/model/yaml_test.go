package model

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestYAMLFixture(t *testing.T) {
	b, err := os.ReadFile(testdata + "/model-fp16/sd1-tiny.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y, err := parseYAML(b)
	if err != nil {
		t.Fatal(err)
	}
	params := yamlGet(y, "model", "params")
	for path, want := range map[string]any{
		"scale_factor":                                        "0.18215",
		"unet_config/params/num_heads":                        "8",
		"unet_config/params/attention_resolutions":            []any{"4", "2", "1"},
		"unet_config/params/channel_mult":                     []any{"1", "2", "2", "2"},
		"first_stage_config/params/ddconfig/ch_mult":          []any{"1", "1", "2", "2"},
		"first_stage_config/params/ddconfig/attn_resolutions": []any{},
		"first_stage_config/params/lossconfig/target":         "torch.nn.Identity",
		"cond_stage_config/target":                            "ldm.modules.encoders.modules.FrozenCLIPEmbedder",
	} {
		got := yamlGet(params, strings.Split(path, "/")...)
		if w, ok := want.([]any); ok && len(w) == 0 {
			if g, ok := got.([]any); !ok || len(g) != 0 {
				t.Errorf("%s = %#v, want an empty list", path, got)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	cfg, err := readLDMConfig(b)
	if err != nil || cfg.unetHeads != 8 || cfg.scaleFactor != 0.18215 || cfg.headChannels != 0 || cfg.linear || cfg.vPrediction || cfg.openCLIP {
		t.Errorf("%+v %v", cfg, err)
	}
}

func TestYAMLSubset(t *testing.T) {
	src := `# comment
model:
  name: "quoted: value"   # trailing comment
  'single': 'x # not a comment'
  list: [ 1, 2 ,3 ]
  empty: []
  nothing:
  tilde: ~
  items:
    - a
    - key: v
      other: w
    -
      nested: 1
  same_indent:
  - p
  - q
  url: http://example.com:80/x
---
`
	y, err := parseYAML([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"model": map[string]any{
		"name": "quoted: value", "single": "x # not a comment",
		"list": []any{"1", "2", "3"}, "empty": []any(nil), "nothing": nil, "tilde": nil,
		"items":       []any{"a", map[string]any{"key": "v", "other": "w"}, map[string]any{"nested": "1"}},
		"same_indent": []any{"p", "q"},
		"url":         "http://example.com:80/x",
	}}
	if !reflect.DeepEqual(y, want) {
		t.Errorf("got  %#v\nwant %#v", y, want)
	}

	for name, bad := range map[string]string{
		"tab":         "a:\n\tb: 1\n",
		"indent":      "a: 1\n   b: 2\n",
		"not a map":   "- 1\n- 2\n",
		"no colon":    "a\n",
		"anchor":      "a: &x 1\n",
		"block text":  "a: |\n  text\n",
		"nested flow": "a: [[1]]\n",
		"deep":        strings.Repeat("a:\n", 1) + deepYAML(100),
	} {
		if _, err := parseYAML([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func deepYAML(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat(" ", i+1) + "a:\n")
	}
	return b.String()
}

// TestSidecarOverrides: the yaml beside a single file sets the UNet head
// count and the VAE scale factor; the name may drop one more extension.
func TestSidecarOverrides(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink(mustAbs(t, fp16File), filepath.Join(dir, "m.fp16.safetensors")); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "m.yaml"), "model:\n  params:\n    scale_factor: 0.13025\n    unet_config:\n      params:\n        num_heads: 4\n")
	m := load(t, filepath.Join(dir, "m.fp16.safetensors"))
	if m.UNet.Heads(0) != 4 || m.VAE.ScalingFactor != 0.13025 {
		t.Errorf("heads %d, scaling %g", m.UNet.Heads(0), m.VAE.ScalingFactor)
	}
	// A sidecar that is not valid stops the load, naming the file.
	mustWrite(t, filepath.Join(dir, "m.fp16.yaml"), "model:\n\tbad\n")
	if _, err := Load(filepath.Join(dir, "m.fp16.safetensors"), Options{}); err == nil || !strings.Contains(err.Error(), "m.fp16.yaml") {
		t.Errorf("bad yaml: %v", err)
	}
}

// FuzzYAML: the sidecar reader must never panic or recurse without bound.
func FuzzYAML(f *testing.F) {
	if b, err := os.ReadFile(testdata + "/model-fp16/sd1-tiny.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("a:\n- b: 1\n  c: [1, 2]\n-\n  - x\n"))
	f.Add([]byte("'k': \"v\" # c\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		readLDMConfig(b)
	})
}

// mustWrite writes a test file or fails the test.
func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
