package nn

import (
	"sync"
	"unsafe"

	"github.com/imggen/imggen/internal/gemm"
	"github.com/imggen/imggen/internal/tensor"
	"github.com/imggen/imggen/internal/vmath"
	"github.com/imggen/imggen/internal/weights"
)

func bf16() bool { return CurrentPrecision() == BFloat16 }

// bf16Conv reports whether the convolution runs in bfloat16 (the
// stride-1, unpadded 1x1 and padded 3x3 ones, which carry the FLOPs).
func (c *Conv2d) bf16Conv() bool {
	if !bf16() || c.Stride != 1 {
		return false
	}
	pad := c.PadT
	return (c.K == 1 && pad == 0 || c.K == 3 && pad == 1) && c.PadL == pad && c.PadB == pad && c.PadR == pad
}

// bf16Packs recycles the bfloat16 weights packed for one call, outside
// a stage that holds its packs.
var bf16Packs sync.Pool

// The bfloat16 packs of a stage: while a stage holds them (HoldBF16Packs),
// each layer's weights are rounded and packed on first use and kept, outside
// the Go heap, and the mapped float16 weights they came from are released
// (so the two forms are not both resident). The packs are freed when the
// last holder lets go. Outside a stage a layer packs its weights per call.
var packs struct {
	sync.Mutex
	holders int
	m       map[packKey]*packEntry
}

type packKey struct {
	data  unsafe.Pointer // the weights' first element
	n     int
	group int
}

type packEntry struct {
	once sync.Once
	pb   *gemm.PackedBF16
	free func()
}

// HoldBF16Packs keeps the bfloat16 packs made from now on until the
// returned function is called (the pipeline holds them for the denoising
// loop, then for the decode). Safe for concurrent use.
func HoldBF16Packs() (release func()) {
	packs.Lock()
	packs.holders++
	packs.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			packs.Lock()
			defer packs.Unlock()
			if packs.holders--; packs.holders > 0 {
				return
			}
			for _, e := range packs.m {
				if e.free != nil {
					e.free()
				}
			}
			packs.m = nil
		})
	}
}

// bf16Weights returns w [out, channels*group] rounded and packed as
// gemm.PackBF16T does, and the function to call once the product is done.
func bf16Weights(w weights.Matrix, group int) (*gemm.PackedBF16, func()) {
	key := packKey{unsafe.Pointer(unsafe.SliceData(w.F32)), len(w.F32), group}
	if w.F16 != nil {
		key = packKey{unsafe.Pointer(unsafe.SliceData(w.F16)), len(w.F16), group}
	}
	packs.Lock()
	if packs.holders == 0 {
		packs.Unlock()
		pb, _ := bf16Packs.Get().(*gemm.PackedBF16)
		pb = gemm.PackBF16T(pb, w.F16, w.F32, w.Rows, w.Cols, group, Threads())
		return pb, func() { bf16Packs.Put(pb) }
	}
	if packs.m == nil {
		packs.m = map[packKey]*packEntry{}
	}
	e := packs.m[key]
	if e == nil {
		e = new(packEntry)
		packs.m[key] = e
	}
	packs.Unlock()
	e.once.Do(func() {
		mem, free := allocWords(gemm.PackedBF16Words(w.Rows, w.Cols, group))
		e.pb = gemm.PackBF16T(gemm.PackedBF16On(mem), w.F16, w.F32, w.Rows, w.Cols, group, Threads())
		e.free = free
		w.Release()
	})
	return e.pb, func() {}
}

// convolveBF16 is convolve in bfloat16 for a 1x1 or 3x3 (padding 1)
// stride-1 convolution, with pixels as the product's rows (as
// forwardShifted) and channels paired: pair (2cp, 2cp+1) of one pixel is
// one 32-bit word. A wide image is rounded once into such a padded image
// and read through the shifted runs; the small images of a batch (the
// U-Net's lower levels, whose weights are the largest) are laid out side by
// side as a patch matrix, so that the weights are read once per call.
func (c *Conv2d) convolveBF16(x *tensor.Tensor) *tensor.Tensor {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	y := tensor.New(n, c.Out, h, w)
	taps := c.K * c.K
	pb, done := bf16Weights(c.w, taps)
	defer done()
	if w < shiftedMinWidth && c.K == 3 {
		c.patchesBF16(y, x, pb)
		return y
	}
	pad := c.K / 2
	pw := w + 2*pad
	plane := (h + 2*pad) * pw
	pairs := (c.In + 1) / 2
	off := make([]int, pb.Pairs())
	for q := range off {
		tap := q % taps
		off[q] = q/taps*plane + tap/c.K*pw + tap%c.K
	}
	// Two words of slack: the last row read runs two past its plane.
	// Pooled buffers: every word of them is written below (the border
	// with zeros), which costs less than a fresh zeroed allocation.
	imgBuf := getWords(pairs*plane + 2*pad)
	defer putWords(imgBuf)
	img := *imgBuf
	clear(img[pairs*plane:])
	band := max(1, min(h, maxIm2colFloats/(c.Out*pw)))
	wideBuf := getFloats(band * pw * c.Out)
	defer putFloats(wideBuf)
	wide := *wideBuf
	for i := 0; i < n; i++ {
		src := x.Data[i*c.In*h*w : (i+1)*c.In*h*w]
		parallelFor(pairs, 1, func(p0, p1 int) {
			for p := p0; p < p1; p++ {
				lo, hi := channelPair(src, p, c.In, h*w)
				pl := img[p*plane : (p+1)*plane]
				if pad == 1 {
					clear(pl[:pw])
					clear(pl[(h+1)*pw:])
				}
				for iy := 0; iy < h; iy++ {
					row := pl[(iy+pad)*pw : (iy+pad+1)*pw]
					if pad == 1 {
						row[0], row[w+1] = 0, 0
					}
					pairRow(row[pad:pad+w], lo[iy*w:], hi, iy*w)
				}
			}
		})
		out := y.Data[i*c.Out*h*w : (i+1)*c.Out*h*w]
		for y0 := 0; y0 < h; y0 += band {
			rows := min(band, h-y0)
			gemm.SgemmBF16(rows*pw, img[y0*pw:], off, pb, wide, c.Out, Threads())
			transposeBias(out, wide, c.b, h*w, y0*w, rows, w, pw, c.Out)
		}
	}
	return y
}

// patchesBF16 is convolveBF16 for a 3x3 convolution of small images: row
// q = (cp, tap) of the patch matrix holds, for every image and pixel, the
// pair that tap reads (zero outside the image), the images side by side.
func (c *Conv2d) patchesBF16(y, x *tensor.Tensor, pb *gemm.PackedBF16) {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	pixels := h * w
	np := n * pixels
	pairs := (c.In + 1) / 2
	colsBuf := getWords(pb.Pairs() * np) // every word written below
	defer putWords(colsBuf)
	cols := *colsBuf
	parallelFor(pairs, 1, func(p0, p1 int) {
		for p := p0; p < p1; p++ {
			for i := 0; i < n; i++ {
				lo, hi := channelPair(x.Data[i*c.In*pixels:(i+1)*c.In*pixels], p, c.In, pixels)
				for tap := 0; tap < 9; tap++ {
					row := cols[(p*9+tap)*np+i*pixels:][:pixels]
					dy, dx := tap/3-1, tap%3-1
					for oy := 0; oy < h; oy++ {
						dst := row[oy*w : (oy+1)*w]
						iy := oy + dy
						if iy < 0 || iy >= h {
							clear(dst)
							continue
						}
						// Output columns [x0, x1) read inside the row.
						x0, x1 := max(0, -dx), min(w, w-dx)
						clear(dst[:x0])
						clear(dst[x1:])
						pairRow(dst[x0:x1], lo[iy*w+x0+dx:], hi, iy*w+x0+dx)
					}
				}
			}
		}
	})
	off := make([]int, pb.Pairs())
	for q := range off {
		off[q] = q * np
	}
	wideBuf := getFloats(np * c.Out)
	defer putFloats(wideBuf)
	wide := *wideBuf
	gemm.SgemmBF16(np, cols, off, pb, wide, c.Out, Threads())
	for i := 0; i < n; i++ {
		transposeBias(y.Data[i*c.Out*pixels:(i+1)*c.Out*pixels], wide[i*pixels*c.Out:], c.b, pixels, 0, h, w, w, c.Out)
	}
}

// channelPair returns channels 2p and 2p+1 of an image of ch planes of
// size pixels (hi nil past the last channel).
func channelPair(img []float32, p, ch, pixels int) (lo, hi []float32) {
	lo = img[2*p*pixels : (2*p+1)*pixels]
	if 2*p+1 < ch {
		hi = img[(2*p+1)*pixels : (2*p+2)*pixels]
	}
	return lo, hi
}

// pairRow writes dst[j] = pair(lo[j], hi[at+j]) (hi as zeros when nil).
func pairRow(dst []uint32, lo, hi []float32, at int) {
	if hi != nil {
		hi = hi[at:]
	}
	vmath.PairBF16(dst, lo, hi)
}

// forwardBF16 is forwardInto in bfloat16: x's rows rounded into pairs
// of columns, laid out pair-major (pair q of every row, then q+1), so
// that the rows are the product's consecutive A rows.
func (lin *Linear) forwardBF16(y []float32, x *tensor.Tensor, rows int) {
	pb, done := bf16Weights(lin.w, 1)
	defer done()
	pairs := pb.Pairs()
	aBuf := getWords(pairs * rows) // every word written below
	defer putWords(aBuf)
	a := *aBuf
	// Blocks of 16 rows: each row paired (tmp), then moved to pair-major
	// 16x16 at a time.
	blocks := (rows + 15) / 16
	parallelFor(blocks, 1, func(b0, b1 int) {
		tmp := make([]uint32, 16*pairs)
		for blk := b0; blk < b1; blk++ {
			r0, nr := blk*16, min(16, rows-blk*16)
			for r := 0; r < nr; r++ {
				t, row := tmp[r*pairs:(r+1)*pairs], x.Data[(r0+r)*lin.In:(r0+r+1)*lin.In]
				if lin.In%2 == 0 {
					vmath.PairAdjacentBF16(t, row)
				} else {
					vmath.PairAdjacentBF16(t[:pairs-1], row)
					t[pairs-1] = gemm.PairBF16(row[lin.In-1], 0)
				}
			}
			q := 0
			if nr == 16 {
				for ; q+16 <= pairs; q += 16 {
					vmath.Transpose16(a[q*rows+r0:], rows, tmp[q:], pairs)
				}
			}
			for ; q < pairs; q++ {
				for r := 0; r < nr; r++ {
					a[q*rows+r0+r] = tmp[r*pairs+q]
				}
			}
		}
	})
	off := make([]int, pairs)
	for q := range off {
		off[q] = q * rows
	}
	gemm.SgemmBF16(rows, a, off, pb, y, lin.Out, Threads())
}
