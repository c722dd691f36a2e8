package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/world"
)

func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{"images.u8", "tokens.i32", "meta.jsonl", "info.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

func TestDatasetLayout(t *testing.T) {
	for _, split := range []string{"train", "heldout"} {
		dir := t.TempDir()
		const n, k = 7, 3
		if rc := run([]string{"-n", "7", "-k", "3", "-seed", "11", "-split", split, "-out", dir}, io.Discard, io.Discard); rc != 0 {
			t.Fatalf("run exit %d", rc)
		}
		files := readAll(t, dir)
		if got := len(files["images.u8"]); got != n*128*128*3 {
			t.Fatalf("images.u8 has %d bytes", got)
		}
		if got := len(files["tokens.i32"]); got != n*k*77*4 {
			t.Fatalf("tokens.i32 has %d bytes", got)
		}
		var info map[string]any
		if err := json.Unmarshal(files["info.json"], &info); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"n": 7.0, "k": 3.0, "size": 128.0, "seed": 11.0, "split": split}
		for key, v := range want {
			if info[key] != v {
				t.Errorf("info.json %s = %v, want %v", key, info[key], v)
			}
		}
		tok := textenc.NewCLIPTokenizer(textenc.EOT)
		sc := bufio.NewScanner(bytes.NewReader(files["meta.jsonl"]))
		i := 0
		for ; sc.Scan(); i++ {
			var m metaLine
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m.Index != i || len(m.Captions) != k {
				t.Fatalf("meta line %d: index %d, %d captions", i, m.Index, len(m.Captions))
			}
			if split == "heldout" && !world.HeldOut(m.Time, m.Kind, m.Colour) {
				t.Errorf("heldout image %d is %+v", i, m.Scene)
			}
			if split == "train" && m.Kind != "" && world.HeldOut(m.Time, m.Kind, m.Colour) {
				t.Errorf("train image %d is held out: %+v", i, m.Scene)
			}
			// Image i at offset i*49152, RGB, equal to a fresh render.
			img := world.Render(m.Scene, m.Seed)
			got := files["images.u8"][i*49152 : (i+1)*49152]
			for p := 0; p < 128*128; p++ {
				if !bytes.Equal(got[3*p:3*p+3], img.Pix[4*p:4*p+3]) {
					t.Fatalf("image %d pixel %d differs from Render", i, p)
				}
			}
			// Caption j of image i at ((i*K)+j)*77*4.
			for j, c := range m.Captions {
				off := ((i * k) + j) * 77 * 4
				ids := tok.Encode(c).IDs
				for q := 0; q < 77; q++ {
					v := int32(binary.LittleEndian.Uint32(files["tokens.i32"][off+4*q:]))
					if int(v) != ids[q] {
						t.Fatalf("image %d caption %d token %d = %d, want %d", i, j, q, v, ids[q])
					}
				}
				if ids[0] != textenc.BOS || ids[76] != textenc.EOT {
					t.Errorf("caption %q: ids %d..%d", c, ids[0], ids[76])
				}
			}
		}
		if i != n {
			t.Fatalf("meta.jsonl has %d lines", i)
		}
	}
}

// TestDatasetDeterministic: the bytes depend on the seed only, not on the
// number of workers, and the batch boundary does not matter.
func TestDatasetDeterministic(t *testing.T) {
	var outs []map[string][]byte
	for _, workers := range []int{1, 3, 8} {
		dir := t.TempDir()
		o := options{n: batch + 5, k: 2, seed: 5, split: "train", out: dir, workers: workers}
		if err := writeDataset(o, io.Discard); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, readAll(t, dir))
	}
	for _, o := range outs[1:] {
		for name, b := range o {
			if !bytes.Equal(b, outs[0][name]) {
				t.Errorf("%s depends on the number of workers", name)
			}
		}
	}
	// A smaller dataset with the same seed is a prefix of the larger one.
	dir := t.TempDir()
	if err := writeDataset(options{n: 3, k: 2, seed: 5, split: "train", out: dir, workers: 2}, io.Discard); err != nil {
		t.Fatal(err)
	}
	small := readAll(t, dir)
	if !bytes.HasPrefix(outs[0]["images.u8"], small["images.u8"]) || !bytes.HasPrefix(outs[0]["tokens.i32"], small["tokens.i32"]) {
		t.Error("a 3-image dataset is not a prefix of a larger one with the same seed")
	}
}

func TestBadUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"-n", "5"},
		{"-n", "0", "-out", dir},
		{"-n", "5", "-out", dir, "-split", "test"},
		{"-n", "5", "-out", dir, "-k", "0"},
		{"-n", "five", "-out", dir},
		{"-n", "5", "-out", dir, "extra"},
		{"-preview", "-n", "100", "-out", filepath.Join(dir, "p.png")},
	} {
		var stderr bytes.Buffer
		if rc := run(args, io.Discard, &stderr); rc != 2 {
			t.Errorf("run(%q) exit %d, want 2", args, rc)
		}
		if stderr.Len() == 0 {
			t.Errorf("run(%q) printed no error", args)
		}
	}
}

func TestPreview(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sheet.png")
	var stdout bytes.Buffer
	if rc := run([]string{"-preview", "-n", "6", "-seed", "3", "-out", file}, &stdout, io.Discard); rc != 0 {
		t.Fatalf("exit %d", rc)
	}
	if lines := bytes.Count(stdout.Bytes(), []byte("\n")); lines != 6 {
		t.Errorf("printed %d captions, want 6", lines)
	}
	if st, err := os.Stat(file); err != nil || st.Size() == 0 {
		t.Errorf("no contact sheet: %v", err)
	}
}
