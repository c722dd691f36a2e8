// Command mkworld writes a training or held-out dataset of the procedural
// world (internal/world) for the Python trainer, or a preview contact sheet.
//
//	mkworld -n N -seed S -k K -split train|heldout -out DIR
//	mkworld -preview -n 16 -seed S -out FILE.png
//
// DIR receives images.u8 (N x 128x128x3 RGB uint8, HWC), tokens.i32 (N x K x
// 77 little-endian int32 CLIP ids, SD 1.x padding), meta.jsonl (one scene
// and its K captions per line) and info.json.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/imggen/imggen/internal/textenc"
	"github.com/imggen/imggen/internal/world"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

type options struct {
	n, k    int
	seed    int64
	split   string
	out     string
	preview bool
	workers int
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkworld", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.n, "n", 0, "number of images (preview: 16)")
	fs.IntVar(&o.k, "k", 4, "captions per image")
	fs.Int64Var(&o.seed, "seed", 0, "dataset seed")
	fs.StringVar(&o.split, "split", "train", "train or heldout")
	fs.StringVar(&o.out, "out", "", "output directory (preview: PNG file)")
	fs.BoolVar(&o.preview, "preview", false, "write a 4x4 contact sheet PNG to -out and print captions")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mkworld -n N -seed S -k K -split train|heldout -out DIR")
		fmt.Fprintln(stderr, "       mkworld -preview -n 16 -seed S -out FILE.png")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o.workers = runtime.GOMAXPROCS(0)
	bad := func(msg string) int {
		fmt.Fprintln(stderr, "mkworld:", msg)
		fs.Usage()
		return 2
	}
	if fs.NArg() > 0 {
		return bad(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	if o.out == "" {
		return bad("-out is required")
	}
	if o.split != "train" && o.split != "heldout" {
		return bad(fmt.Sprintf("-split must be train or heldout, not %q", o.split))
	}
	if o.preview {
		if o.n == 0 {
			o.n = 16
		}
		if o.n < 1 || o.n > 64 {
			return bad("-n must be 1..64 with -preview")
		}
		if err := preview(o, stdout); err != nil {
			fmt.Fprintln(stderr, "mkworld:", err)
			return 1
		}
		return 0
	}
	if o.n < 1 {
		return bad("-n must be at least 1")
	}
	if o.k < 1 || o.k > 64 {
		return bad("-k must be 1..64")
	}
	start := time.Now()
	if err := writeDataset(o, stderr); err != nil {
		fmt.Fprintln(stderr, "mkworld:", err)
		return 1
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(stderr, "mkworld: wrote %d images to %s in %.1fs (%.0f images/s)\n", o.n, o.out, el, float64(o.n)/el)
	return 0
}

// imageSeed derives image i's seed from the dataset seed only (splitmix64),
// so the output does not depend on the number of workers.
func imageSeed(seed int64, i int) int64 {
	z := uint64(seed) + uint64(i+1)*0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return int64(z ^ (z >> 31))
}

// sample is one generated image with its scene and captions.
type sample struct {
	seed     int64
	scene    world.Scene
	captions []string
	img      *image.RGBA
}

func makeSample(o options, i int) sample {
	seed := imageSeed(o.seed, i)
	rng := rand.New(rand.NewPCG(uint64(seed), 0xca97))
	split := world.SplitTrain
	if o.split == "heldout" {
		split = world.SplitHeldOut
	}
	s := world.Random(rng, split)
	return sample{seed: seed, scene: s, captions: world.Captions(s, rng, o.k), img: world.Render(s, seed)}
}

type metaLine struct {
	Index int   `json:"i"`
	Seed  int64 `json:"seed"`
	world.Scene
	Captions []string `json:"captions"`
}

const batch = 512

func writeDataset(o options, progress io.Writer) (err error) {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	create := func(name string) (*os.File, *bufio.Writer, error) {
		f, err := os.Create(filepath.Join(o.out, name))
		if err != nil {
			return nil, nil, err
		}
		return f, bufio.NewWriterSize(f, 1<<20), nil
	}
	fi, wi, err := create("images.u8")
	if err != nil {
		return err
	}
	defer fi.Close()
	ft, wt, err := create("tokens.i32")
	if err != nil {
		return err
	}
	defer ft.Close()
	fm, wm, err := create("meta.jsonl")
	if err != nil {
		return err
	}
	defer fm.Close()

	// Each batch is rendered and tokenized in parallel (worker w takes
	// indices w, w+workers, ...) and then written in order.
	toks := make([]*textenc.Tokenizer, o.workers)
	for w := range toks {
		toks[w] = textenc.NewCLIPTokenizer(textenc.EOT)
	}
	samples := make([]sample, batch)
	ids := make([][]byte, batch)
	lastReport := time.Now()
	for b0 := 0; b0 < o.n; b0 += batch {
		nb := min(batch, o.n-b0)
		var wg sync.WaitGroup
		for w := 0; w < o.workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for j := w; j < nb; j += o.workers {
					samples[j] = makeSample(o, b0+j)
					buf := make([]byte, 0, o.k*textenc.ContextLen*4)
					for _, c := range samples[j].captions {
						for _, id := range toks[w].Encode(c).IDs {
							buf = binary.LittleEndian.AppendUint32(buf, uint32(int32(id)))
						}
					}
					ids[j] = buf
				}
			}(w)
		}
		wg.Wait()
		rgbBuf := make([]byte, world.Size*world.Size*3)
		for j := 0; j < nb; j++ {
			sm := samples[j]
			for p := 0; p < world.Size*world.Size; p++ {
				copy(rgbBuf[3*p:3*p+3], sm.img.Pix[4*p:4*p+3])
			}
			if _, err := wi.Write(rgbBuf); err != nil {
				return err
			}
			if _, err := wt.Write(ids[j]); err != nil {
				return err
			}
			line, err := json.Marshal(metaLine{Index: b0 + j, Seed: sm.seed, Scene: sm.scene, Captions: sm.captions})
			if err != nil {
				return err
			}
			wm.Write(append(line, '\n'))
		}
		if time.Since(lastReport) > 5*time.Second {
			fmt.Fprintf(progress, "mkworld: %d/%d\n", b0+nb, o.n)
			lastReport = time.Now()
		}
	}
	for _, w := range []*bufio.Writer{wi, wt, wm} {
		if err := w.Flush(); err != nil {
			return err
		}
	}
	for _, f := range []*os.File{fi, ft, fm} {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			return err
		}
	}
	info, _ := json.Marshal(map[string]any{"n": o.n, "k": o.k, "size": world.Size, "seed": o.seed, "split": o.split})
	return os.WriteFile(filepath.Join(o.out, "info.json"), append(info, '\n'), 0o644)
}

// preview writes a contact sheet (4 columns) of the first n samples and
// prints each one's first caption.
func preview(o options, stdout io.Writer) error {
	o.k = 1
	cols := 4
	rows := (o.n + cols - 1) / cols
	sheet := image.NewRGBA(image.Rect(0, 0, cols*(world.Size+2), rows*(world.Size+2)))
	for i := 0; i < o.n; i++ {
		sm := makeSample(o, i)
		x, y := (i%cols)*(world.Size+2)+1, (i/cols)*(world.Size+2)+1
		draw.Draw(sheet, image.Rect(x, y, x+world.Size, y+world.Size), sm.img, image.Point{}, draw.Src)
		fmt.Fprintf(stdout, "%2d: %s\n", i, sm.captions[0])
	}
	f, err := os.Create(o.out)
	if err != nil {
		return err
	}
	if err := png.Encode(f, sheet); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
