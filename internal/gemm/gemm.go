package gemm

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/imggen/imggen/internal/kernelset"
	"github.com/imggen/imggen/internal/reuse"
	"github.com/imggen/imggen/internal/team"
	"github.com/imggen/imggen/internal/vmath"
)

const (
	mr = 6  // rows of a micro-tile
	nr = 32 // columns of the widest tile (6x32 AVX-512); N splits at multiples of it
)

// Sgemm computes C[m,n] = A[m,k]·B[k,n]; all row-major with leading
// dimensions lda, ldb, ldc; C is overwritten (with zeros when k is 0). The
// work is split over up to threads goroutines, along M or N only. Panics if
// a slice is too short for its shape.
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, threads int) {
	checkMat("a", a, lda, m, k)
	checkMat("b", b, ldb, k, n)
	checkMat("c", c, ldc, m, n)
	run(&problem{m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}, threads)
}

// SgemmNT computes C[m,n] = A[m,k]·Bᵀ where bt[n,k] (leading dimension
// ldbt) holds B transposed, e.g. Q·Kᵀ from K[lk,d]. Same rules as Sgemm.
func SgemmNT(m, n, k int, a []float32, lda int, bt []float32, ldbt int, c []float32, ldc int, threads int) {
	checkMat("a", a, lda, m, k)
	checkMat("bt", bt, ldbt, n, k)
	checkMat("c", c, ldc, m, n)
	run(&problem{m: m, n: n, k: k, a: a, lda: lda, b: bt, ldb: ldbt, trans: true, c: c, ldc: ldc}, threads)
}

// SgemmNTHalf is SgemmNT with Bᵀ held as IEEE float16 bits (a float16
// weight matrix as mapped from its file, e.g. a Linear weight): B is
// widened as it is packed, so no float32 copy of it is made. Same rules,
// and the bits of SgemmNT on the widened Bᵀ.
func SgemmNTHalf(m, n, k int, a []float32, lda int, bt []uint16, ldbt int, c []float32, ldc int, threads int) {
	checkMat("a", a, lda, m, k)
	checkMat("bt", bt, ldbt, n, k)
	checkMat("c", c, ldc, m, n)
	run(&problem{m: m, n: n, k: k, a: a, lda: lda, bt16: bt, ldb: ldbt, trans: true, c: c, ldc: ldc}, threads)
}

// SgemmHalfA is Sgemm with A held as IEEE float16 bits (a float16
// convolution weight as mapped from its file): each block of A is widened
// just before the kernels read it, so no float32 copy of A is made. Same
// rules, and the bits of Sgemm on the widened A.
func SgemmHalfA(m, n, k int, a []uint16, lda int, b []float32, ldb int, c []float32, ldc int, threads int) {
	checkMat("a", a, lda, m, k)
	checkMat("b", b, ldb, k, n)
	checkMat("c", c, ldc, m, n)
	run(&problem{m: m, n: n, k: k, a16: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc}, threads)
}

// SgemmHalfANT is SgemmHalfA with B given as its transpose bt[n,k], as in
// SgemmNT. Same rules, and the bits of SgemmNT on the widened A.
func SgemmHalfANT(m, n, k int, a []uint16, lda int, bt []float32, ldbt int, c []float32, ldc int, threads int) {
	checkMat("a", a, lda, m, k)
	checkMat("bt", bt, ldbt, n, k)
	checkMat("c", c, ldc, m, n)
	run(&problem{m: m, n: n, k: k, a16: a, lda: lda, b: bt, ldb: ldbt, trans: true, c: c, ldc: ldc}, threads)
}

// SgemmHalfAPacked is SgemmPacked with A held as IEEE float16 bits, as
// in SgemmHalfA. Same rules, and the bits of SgemmPacked on the widened A.
func SgemmHalfAPacked(m int, a []uint16, lda int, pb *PackedB, c []float32, ldc int, threads int) {
	checkMat("a", a, lda, m, pb.k)
	checkMat("c", c, ldc, m, pb.n)
	run(&problem{m: m, n: pb.n, k: pb.k, a16: a, lda: lda, pb: pb, c: c, ldc: ldc}, threads)
}

// SgemmRows computes C[m,n] = A[m,k]·B where row p of B is
// b[rowOff[p] : rowOff[p]+n]. A 3x3 convolution over a padded image is
// such a product, each row being a shifted view of one input channel, so
// no im2col matrix has to be built. Same rules and bit-identical results as
// Sgemm on the same B.
func SgemmRows(m, n, k int, a []float32, lda int, b []float32, rowOff []int, c []float32, ldc int, threads int) {
	checkMat("a", a, lda, m, k)
	checkMat("c", c, ldc, m, n)
	if len(rowOff) != k {
		panic(fmt.Sprintf("gemm: %d row offsets for k = %d", len(rowOff), k))
	}
	for p, off := range rowOff {
		if off < 0 || off+n > len(b) {
			panic(fmt.Sprintf("gemm: row %d of b at %d+%d is outside its %d values", p, off, n, len(b)))
		}
	}
	run(&problem{m: m, n: n, k: k, a: a, lda: lda, b: b, rowOff: rowOff, c: c, ldc: ldc}, threads)
}

// SgemmPacked computes C[m,n] = A[m,k]·B with B packed beforehand (n and k
// come from pb). Same rules and bit-identical results as Sgemm.
func SgemmPacked(m int, a []float32, lda int, pb *PackedB, c []float32, ldc int, threads int) {
	checkMat("a", a, lda, m, pb.k)
	checkMat("c", c, ldc, m, pb.n)
	run(&problem{m: m, n: pb.n, k: pb.k, a: a, lda: lda, pb: pb, c: c, ldc: ldc}, threads)
}

// SgemmOffA computes C[m,n] = A·B with B packed (n and k come from pb)
// and A(i, p) = a[aOff[p]+i]: each column of A is m consecutive floats
// at its own offset. A 3x3 convolution whose output pixels are the rows
// (C[pixel, out channel]) reads its input this way, each (channel, ky,
// kx) being a shifted run of the padded image, so no patch matrix is
// built and the small weight matrix is the packed operand. Same rules
// and bit-identical results as Sgemm on the same A and B.
func SgemmOffA(m int, a []float32, aOff []int, pb *PackedB, c []float32, ldc int, threads int) {
	checkMat("c", c, ldc, m, pb.n)
	checkOffsets("column", len(a), aOff, pb.k, m)
	run(&problem{m: m, n: pb.n, k: pb.k, a: a, aOff: aOff, pb: pb, c: c, ldc: ldc}, threads)
}

// checkOffsets panics unless there are k offsets and each run of m values
// from one lies inside the aLen values of an offset A.
func checkOffsets(what string, aLen int, aOff []int, k, m int) {
	if len(aOff) != k {
		panic(fmt.Sprintf("gemm: %d %s offsets for %d %ss", len(aOff), what, k, what))
	}
	for p, off := range aOff {
		if off < 0 || off+m > aLen {
			panic(fmt.Sprintf("gemm: %s %d of a at %d+%d is outside its %d values", what, p, off, m, aLen))
		}
	}
}

// Impl names a kernel set (see internal/kernelset).
type Impl = kernelset.Impl

// The kernel sets.
const (
	ImplGo     = kernelset.Go
	ImplAVX2   = kernelset.AVX2
	ImplAVX512 = kernelset.AVX512
)

// ParseImpl maps "go", "avx2" or "avx512" to an Impl.
func ParseImpl(s string) (Impl, error) { return kernelset.Parse(s) }

// Supported reports whether this CPU and build can run im.
func Supported(im Impl) bool {
	switch im {
	case ImplAVX512:
		return hasAVX512
	case ImplAVX2:
		return hasAVX2
	}
	return im == ImplGo
}

// kernels starts with the best kernel set the CPU runs, capped by IMGGEN_GEMM.
var kernels = kernelset.NewSelector("gemm", "IMGGEN_GEMM", Supported)

// CurrentImpl reports the kernel set in use.
func CurrentImpl() Impl { return kernels.Current() }

// SetImpl selects the kernel set for later calls, for tests and
// benchmarks. The assembly sets give the same bits; Go rounds each product
// before adding it (see kernGo).
func SetImpl(im Impl) error { return kernels.Set(im) }

// blocking holds the cache block sizes, in elements: kc rows of B per
// panel (one kernel's B strips, kc x 16 or kc x 32, stay in L1 while a
// column of row tiles passes), mc rows of A per block (in L2 across the
// strips of a panel), nc columns of B per panel (kc x nc in L2). mc is a
// multiple of mr, nc of nr. The blocks actually used are the even split
// of each dimension into the fewest blocks no larger than these.
type blocking struct{ kc, mc, nc int }

// defaultBlocking per kernel set, tuned on a Zen 3 core (32 KiB L1D,
// 512 KiB L2) for AVX2; the AVX-512 kernel reads two strips, so its kc is
// halved to keep 2 x kc x 64 bytes of B in a 32 KiB L1. blockingFor
// widens kc where the L1 is larger.
var defaultBlocking = [...]blocking{
	ImplGo:     {kc: 256, mc: 96, nc: 512},
	ImplAVX2:   {kc: 384, mc: 96, nc: 512},
	ImplAVX512: {kc: 192, mc: 96, nc: 512},
}

// wideL1KC is each kernel set's kc for a level-1 data cache of 48 KiB or
// more (Zen 5, Intel since Ice Lake): for AVX-512 40 KiB of B strips and
// one K block for the 320-wide layers, for AVX2 36 KiB. Measured on a
// 2-core Xeon (48 KiB L1D, 2 MiB L2; go test ./internal/gemm -bench
// 'Sgemm/.../t2' with GEMM_BLOCK=kc,96,512, n=5, eight network products):
// AVX-512 10% faster in the geometric mean than kc = 192 (kc = 384 no
// better), AVX2 2% faster than kc = 384; none slower. An offset A
// (SgemmOffA, the shifted convolutions) keeps the default: its tiles read
// a line per step of K, which a B filling the L1 pushes out to L2 (3x3
// convolutions 4% slower in the geometric mean with kc = 320, n = 8).
var wideL1KC = [...]int{ImplGo: 256, ImplAVX2: 576, ImplAVX512: 320}

// l1Data is the level-1 data cache size in bytes (0 when unknown).
var l1Data = l1DataBytes()

// blockingFor is the default blocking of kernel set im on this CPU, for
// an offset A or not.
func blockingFor(im Impl, offsetA bool) blocking {
	bl := defaultBlocking[im]
	if l1Data >= 48<<10 && !offsetA {
		bl.kc = wideL1KC[im]
	}
	return bl
}

// parseCacheSize reads a cache size as sysfs writes it ("48K", "2048K",
// "1M"); 0 if it cannot.
func parseCacheSize(s string) int {
	mult := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n * mult
}

// blockOverride, if set, replaces the defaults (tests and tuning).
var blockOverride atomic.Pointer[blocking]

// setBlocking overrides the block sizes (nil restores the defaults) and
// returns the previous override.
func setBlocking(b *blocking) *blocking {
	if b != nil && (b.kc < 1 || b.mc < mr || b.mc%mr != 0 || b.nc < nr || b.nc%nr != 0) {
		panic("gemm: bad blocking")
	}
	return blockOverride.Swap(b)
}

// problem is one product with its operands.
type problem struct {
	m, n, k int
	a       []float32
	lda     int
	aOff    []int     // A(i, p) = a[aOff[p]+i] when set (then pb is set too)
	a16     []uint16  // A as float16 bits instead of a (lda applies)
	b       []float32 // raw B, or Bᵀ with trans; nil when pb is set
	bt16    []uint16  // Bᵀ as float16 bits instead of b (trans, ldb apply)
	ldb     int
	trans   bool
	rowOff  []int // B(p, j) = b[rowOff[p]+j] when set
	pb      *PackedB
	c       []float32
	ldc     int

	im Impl
	bl blocking
}

// Below this many multiply-adds per goroutine, starting it costs more than
// it saves.
const defaultMinWorkPerThread = 1 << 18

var minWorkPerThread = defaultMinWorkPerThread // a variable so tests can split tiny products

// SplitTinyProducts makes every product that has more than one kernel tile
// split across the threads it is given, however small it is, until the
// returned function restores the default. A test hook: thread invariance is
// tested only where work is really split. Not safe to call while products
// run.
func SplitTinyProducts() (restore func()) {
	minWorkPerThread = 1
	return func() { minWorkPerThread = defaultMinWorkPerThread }
}

// Counts of the products run since the program started: tests read them to
// tell how many products were split and how much work a network did.
var (
	productsRun      atomic.Int64 // every product with m, n > 0
	productsSplit    atomic.Int64 // those run on more than one goroutine
	productsOneTile  atomic.Int64 // those too small to split (one 6-row, 32-column tile)
	productsOneAsked atomic.Int64 // those whose caller asked for one goroutine
	multiplyAdds     atomic.Int64 // m·n·k summed over every product
)

// Stats counts the products run since the program started.
type Stats struct {
	Products     int64 // products with m, n > 0
	Split        int64 // run on more than one goroutine
	OneTile      int64 // of more than one thread asked, too small to split
	OneAsked     int64 // run on one goroutine because the caller asked for one
	MultiplyAdds int64 // m·n·k summed over every product
}

// ReadStats reports the counts so far; subtract two readings to count a
// stretch of work.
func ReadStats() Stats {
	return Stats{productsRun.Load(), productsSplit.Load(), productsOneTile.Load(), productsOneAsked.Load(), multiplyAdds.Load()}
}

// Sub is s minus an earlier reading.
func (s Stats) Sub(earlier Stats) Stats {
	return Stats{s.Products - earlier.Products, s.Split - earlier.Split, s.OneTile - earlier.OneTile,
		s.OneAsked - earlier.OneAsked, s.MultiplyAdds - earlier.MultiplyAdds}
}

// maxWholePack bounds the floats of a B packed up front so that the
// threads can split M (see run).
const maxWholePack = 16 << 20

func run(g *problem, threads int) {
	m, n, k := g.m, g.n, g.k
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			clear(g.c[i*g.ldc : i*g.ldc+n])
		}
		return
	}
	g.im = CurrentImpl()
	g.bl = blockingFor(g.im, g.aOff != nil)
	if b := blockOverride.Load(); b != nil {
		g.bl = *b
	}
	// A float16 A is widened block by block as the product runs, once per
	// column panel of B. With many panels (a 1x1 convolution over a large
	// image) that repeats, so such an A is widened once, up front, by all
	// threads into a pooled buffer instead.
	if g.a16 != nil && n > 2*g.bl.nc {
		buf := wideAs.Get()
		*buf = grow(*buf, m*k)
		a := *buf
		parallel(m, threads, func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				vmath.WidenF16(a[i*k:(i+1)*k], g.a16[i*g.lda:i*g.lda+k])
			}
		})
		defer wideAs.Put(buf)
		g.a, g.lda, g.a16 = a, k, nil
	}

	mt, nt := (m+mr-1)/mr, (n+nr-1)/nr
	t := min(max(threads, 1), mt*nt, max(1, m*n*k/minWorkPerThread))
	productsRun.Add(1)
	multiplyAdds.Add(int64(m) * int64(n) * int64(k))
	switch {
	case t > 1:
		productsSplit.Add(1)
	case threads <= 1:
		productsOneAsked.Add(1)
	case mt*nt == 1:
		productsOneTile.Add(1)
	}
	if t == 1 {
		w := getWorker()
		w.run(g, 0, m, 0, n)
		putWorker(w)
		return
	}
	// Split the side that leaves the largest share smallest, counted in
	// kernel tiles (6 rows x 16 columns, padded). Splitting N, each
	// goroutine packs only its own columns of B; splitting M, all would
	// need all of B, so a raw B is packed once, up front, in parallel.
	// Either way every C element sees the same operations.
	strips := func(cols int) int { return (cols + sw - 1) / sw }
	var maxRows, maxStrips int // largest share of row tiles, of strips
	for i := 0; i < t; i++ {
		lo, hi := i*mt/t, (i+1)*mt/t
		maxRows = max(maxRows, hi-lo)
		lo, hi = i*nt/t, (i+1)*nt/t
		maxStrips = max(maxStrips, strips(min(hi*nr, n)-min(lo*nr, n)))
	}
	workM, workN := maxRows*strips(n), mt*maxStrips
	splitN := workN < workM || (workN == workM && g.pb == nil)
	if g.a16 != nil && splitN && g.pb == nil {
		splitN = !halfASplitM(workM, workN, m, n, k, t)
	}
	if !splitN && g.pb == nil {
		if packedLen(k, n) > maxWholePack {
			splitN = true
		} else {
			buf := wholePacks.Get()
			if g.bt16 != nil {
				g.pb = packWholeHalfT(*buf, g.bt16, g.ldb, k, n, t)
			} else {
				g.pb = packWhole(*buf, g.b, g.ldb, g.trans, g.rowOff, k, n, t)
			}
			defer func() {
				*buf = g.pb.data
				wholePacks.Put(buf)
			}()
		}
	}
	if splitN {
		parallel(nt, t, func(lo, hi int) {
			w := getWorker()
			w.run(g, 0, m, lo*nr, min(hi*nr, n))
			putWorker(w)
		})
		return
	}
	parallel(mt, t, func(lo, hi int) {
		w := getWorker()
		w.run(g, lo*mr, min(hi*mr, m), 0, n)
		putWorker(w)
	})
}

// halfASplitM reports whether a product with a float16 A (a convolution
// over a small image, weights as A) runs clearly faster split along M.
// Splitting N, every goroutine widens all of A, which comes from memory;
// splitting M, each widens its own rows but B is packed up front. Rough
// costs in cycles per element on one core: a multiply-add 1/32 (two
// 16-wide FMAs a cycle), widening A 1/2 (memory-bound), packing B 1/4.
// Measured on Zen 5 (go test -bench 'Sgemm/conv.*halfA'), the
// 1280-channel 8x8 convolution of a guided batch runs 11% faster split
// along M; where the estimate is close the N split stays.
func halfASplitM(workM, workN, m, n, k, t int) bool {
	tile := float64(mr*sw*k) / 32
	costN := float64(workN)*tile + float64(m)*float64(k)/2
	costM := float64(workM)*tile + float64(m)*float64(k)/float64(t)/2 + float64(k)*float64(n)/float64(t)/4
	return costM < 0.95*costN
}

// parallel calls fn on t contiguous, nearly equal parts of [0, n), the first
// on the calling goroutine.
func parallel(n, t int, fn func(lo, hi int)) {
	t = min(t, n)
	if t <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	team.Run(t, func(i int) { fn(i*n/t, (i+1)*n/t) })
}

// tmpWidth is the widest kernel tile (6x64, see stripStepAt).
const tmpWidth = 4 * sw

// worker holds one goroutine's scratch space.
type worker struct {
	bpanel []float32              // packed kc x nc panel of a raw B
	aedge  []float32              // packed last tile of A if it has fewer than 6 rows
	ablock []float32              // packed tiles of an offset A (SgemmOffA) without its kernel
	awide  []float32              // a block of a float16 A, widened (SgemmHalfA)
	btmp   []float32              // widened rows of a float16 Bᵀ being packed
	tmp    [mr * tmpWidth]float32 // C tile for tiles that overhang C
}

var workers = reuse.Pool[*worker]{New: func() *worker { return new(worker) }}

// wholePacks recycles the buffers of B packed up front for M splits.
var wholePacks = reuse.Pool[*[]float32]{New: func() *[]float32 { return new([]float32) }}

// wideAs recycles the buffers of float16 A widened up front.
var wideAs = reuse.Pool[*[]float32]{New: func() *[]float32 { return new([]float32) }}

// DropScratch empties the pools of workers and packing buffers for the
// collector to reclaim (see nn.DropScratch).
func DropScratch() {
	workers.Drain()
	wholePacks.Drain()
	wideAs.Drain()
}

func getWorker() *worker  { return workers.Get() }
func putWorker(w *worker) { workers.Put(w) }

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// panel locates the packed strips of one kc x nc block of B: strip q
// (relative to the block) starts at data[off + q*sstride + row*sw].
type panel struct {
	data         []float32
	off, sstride int
	row          int
}

// run computes C[m0:m1, n0:n1]; n0 is a multiple of nr, and so is n1
// unless it is n.
//
// Loop order (Goto/BLIS): column panels of nc, then K blocks of kc in
// increasing order, then row blocks of mc, then the kernel-wide column
// slices of the panel, then 6-row tiles. The first K block starts C from
// zero and every later one continues from the stored C, so each C element
// is one unbroken chain of multiply-adds over p = 0..k-1 whatever the
// block sizes.
func (w *worker) run(g *problem, m0, m1, n0, n1 int) {
	// Blocks of equal size rather than full ones and a stub: k = 320
	// with kc = 256 would leave a 64-step block that spends a tenth of its
	// time loading and storing C.
	kc := even(g.k, g.bl.kc, 1)
	mc := even(m1-m0, g.bl.mc, mr)
	nc := even(n1-n0, g.bl.nc, nr)
	for jc := n0; jc < n1; jc += nc {
		jw := min(nc, n1-jc)
		nq := (jw + sw - 1) / sw
		for pc := 0; pc < g.k; pc += kc {
			kw := min(kc, g.k-pc)
			var bp panel
			switch {
			case g.pb != nil:
				bp = panel{data: g.pb.data, off: jc * g.k, sstride: sw * g.k, row: pc}
			case g.bt16 != nil:
				w.bpanel = grow(w.bpanel, nq*sw*kw)
				w.btmp = packStripsHalfT(w.bpanel, sw*kw, g.bt16, g.ldb, pc, kw, jc, jw, 0, nq, w.btmp)
				bp = panel{data: w.bpanel, sstride: sw * kw}
			default:
				w.bpanel = grow(w.bpanel, nq*sw*kw)
				packStrips(w.bpanel, sw*kw, g.b, g.ldb, g.trans, g.rowOff, pc, kw, jc, jw, 0, nq)
				bp = panel{data: w.bpanel, sstride: sw * kw}
			}
			for ic := m0; ic < m1; ic += mc {
				next := blockOrder{m0, m1, mc, g.k, kc, n1, nc}.after(ic, pc, jc)
				w.block(g, ic, min(mc, m1-ic), jc, nq, pc, kw, &bp, next)
			}
		}
	}
}

// blockOrder is the order in which worker.run visits the blocks of A:
// rows [m0, m1) in blocks of mc within each kc-deep block of K, those
// within each nc-wide panel of C up to column n1.
type blockOrder struct{ m0, m1, mc, k, kc, n1, nc int }

// after is the (row, column) of A where the block run after the one at
// (ic, pc) in panel jc starts, or {-1, -1} after the last.
func (o blockOrder) after(ic, pc, jc int) [2]int {
	switch {
	case ic+o.mc < o.m1:
		return [2]int{ic + o.mc, pc}
	case pc+o.kc < o.k:
		return [2]int{o.m0, pc + o.kc}
	case jc+o.nc < o.n1:
		return [2]int{o.m0, 0}
	}
	return [2]int{-1, -1}
}

// even splits total into the fewest parts of at most limit and returns
// the part size, rounded up to a multiple of unit (limit is one).
func even(total, limit, unit int) int {
	parts := (total + limit - 1) / limit
	size := (total + parts - 1) / parts
	return (size + unit - 1) / unit * unit
}

// block runs the tiles of rows [ic, ic+iw) against the nq strips of bp,
// which hold rows [pc, pc+kw) of B from column jc on. For a float16 A,
// next is the (row, column) of A where the block widened next starts
// (row -1 if none).
func (w *worker) block(g *problem, ic, iw, jc, nq, pc, kw int, bp *panel, next [2]int) {
	load := pc > 0
	if g.aOff != nil {
		w.blockOff(g, ic, iw, jc, nq, pc, kw, bp, load)
		return
	}
	// A is read in place: the kernel broadcasts from six row pointers, so
	// packing A would only buy contiguity, and measured it does not pay
	// for its pass over A (not even when lda*4 is a multiple of 4 KiB and
	// the six rows share an L1 set). Only a last tile of fewer than 6 rows
	// is packed, with zero rows, so that the kernel never reads past A.
	// A float16 A is widened block by block into w.awide, which the
	// kernels then read in place; A(i, p) is at a[(i-r0)*lda + p-c0].
	a, lda, r0, c0 := g.a, g.lda, 0, 0
	var pf prefetch
	if g.a16 != nil {
		w.awide = grow(w.awide, iw*kw)
		for r := 0; r < iw; r++ {
			vmath.WidenF16(w.awide[r*kw:(r+1)*kw], g.a16[(ic+r)*g.lda+pc:][:kw])
		}
		a, lda, r0, c0 = w.awide, kw, ic, pc
		// Widening reads A from memory in short row runs, which wait on
		// memory latency (on a 2-core Xeon, 4.2 GB/s against 7.3 for one
		// contiguous run): the kernels prefetch the next block's rows,
		// each tile six of them, so they are in L2 when it is widened.
		if next[0] >= 0 {
			pf = prefetch{uintptr(unsafe.Pointer(&g.a16[next[0]*g.lda+next[1]])), 2 * g.lda, 4 * 2}
		}
	}
	if pf.p == 0 {
		pf = nextTile(a[(ic-r0)*lda+pc-c0:], lda, 1)
	}
	ts := (iw + mr - 1) / mr
	if ic+ts*mr > g.m {
		w.aedge = grow(w.aedge, mr*kw)
		packAEdge(w.aedge, a, lda, ic+(ts-1)*mr-r0, g.m-r0, pc-c0, kw)
	}
	for q, step := 0, 0; q < nq; q += step {
		step = stripStepAt(g.im, nq-q)
		cw, j, v, b := bp.strip(g, jc, nq, q, step)
		t := 0
		if v == cw || partialKernel(g.im, cw, v) {
			// The tiles wholly inside C, in one call.
			full := min(ts, (g.m-ic)/mr)
			if full > 0 {
				microKernelCol(g.im, cw, v, full, kw, a[(ic-r0)*lda+pc-c0:], lda, 1, b, bp.sstride, g.c[ic*g.ldc+j:], g.ldc, load, pf)
				t = full
			}
		}
		for ; t < ts; t++ {
			if i := ic + t*mr; i+mr <= g.m {
				w.tile(g, i, j, cw, v, kw, a[(i-r0)*lda+pc-c0:], lda, 1, b, bp.sstride, load)
			} else {
				w.tile(g, i, j, cw, v, kw, w.aedge, 1, mr, b, bp.sstride, load)
			}
		}
	}
}

// prefetch is a kernel's prefetch stream (kernel_amd64.s): six rows from
// address p, stride bytes apart, advanced step bytes every four k steps.
// Prefetching never faults, so p need not point into an operand.
type prefetch struct {
	p            uintptr
	stride, step int
}

// nextTile is the stream of the tile below one whose A(i, p) is at
// a[i*rs+p*cs]: what the kernels prefetch by default.
func nextTile(a []float32, rs, cs int) prefetch {
	return prefetch{uintptr(unsafe.Pointer(unsafe.SliceData(a))) + uintptr(4*mr*rs), 4 * rs, 4 * 4 * cs}
}

// down is the stream moved rows rows down.
func (pf prefetch) down(rows int) prefetch {
	pf.p += uintptr(rows * pf.stride)
	return pf
}

// stripStep is how many 16-column strips one kernel call covers: two for
// AVX-512 and Go, one for AVX2 (whose kernel is 16 wide). A last odd
// strip runs a 16-wide kernel (but see stripStepAt).
func stripStep(im Impl) int {
	if im == ImplAVX2 {
		return 1
	}
	return 2
}

// stripStepAt is stripStep with left strips still to run in the panel:
// AVX-512 takes four at a time (kern6x64AVX512N, kern6x64AVX512NOff),
// three (the 6x48 kernels) where fours would leave one or two, and two
// only for a panel of two or five. The wide kernels broadcast each A
// value once per 48 or 64 columns and keep 18 or 24 FMAs in flight: on
// cache-resident data they run 10-17% faster than the 6x32 one on a
// 2-core Xeon (BenchmarkKernel), and a network's products 5% faster with
// the 6x48 one alone (go test ./internal/nn -bench 'Conv3x3|LinearHalf|
// Attention4096', n=5). Every lane runs the same chain whatever the
// width, so the bits do not change.
func stripStepAt(im Impl, left int) int {
	if im != ImplAVX512 {
		return stripStep(im)
	}
	switch {
	case left >= 4 && left != 5 && left != 6 && left != 9:
		return 4
	case left >= 3:
		return 3
	}
	return stripStep(im)
}

// strip locates the kernel call at strip q of the panel (of nq strips from
// column jc): its width cw, first column j, the v of its columns inside C,
// and its packed B.
func (bp *panel) strip(g *problem, jc, nq, q, step int) (cw, j, v int, b []float32) {
	cw = min(step, nq-q) * sw
	j = jc + q*sw
	return cw, j, min(cw, g.n-j), bp.data[bp.off+q*bp.sstride+bp.row*sw:]
}

// blockOff is block for an offset A (SgemmOffA). The AVX2 and AVX-512
// kernels read full tiles in place; a last tile of fewer than 6 rows, and
// every tile for the Go kernels and wherever the panel's narrow last strip
// cannot be masked (see offsetKernel), is packed first (as dst[p*6+r],
// zero past row m) and run through tile.
func (w *worker) blockOff(g *problem, ic, iw, jc, nq, pc, kw int, bp *panel, load bool) {
	off := g.aOff[pc : pc+kw]
	ts := (iw + mr - 1) / mr
	full := min(ts, (g.m-ic)/mr)
	last := min(sw, g.n-jc-(nq-1)*sw) // valid columns of the last strip
	inPlace := offsetKernel(g.im, nq, last)
	first := 0 // tiles [first, ts) are packed
	if inPlace {
		first = full
	}
	w.ablock = grow(w.ablock, (ts-first)*mr*kw)
	for t := first; t < ts; t++ {
		packAOff(w.ablock[(t-first)*mr*kw:(t-first+1)*mr*kw], g.a, off, ic+t*mr, g.m)
	}
	for q, step := 0, 0; q < nq; q += step {
		step = stripStepAt(g.im, nq-q)
		cw, j, v, b := bp.strip(g, jc, nq, q, step)
		if inPlace && full > 0 {
			microKernelColOff(g.im, cw, v, full, kw, g.a[ic:], off, b, bp.sstride, g.c[ic*g.ldc+j:], g.ldc, load)
		}
		for t := first; t < ts; t++ {
			at := w.ablock[(t-first)*mr*kw:]
			w.tile(g, ic+t*mr, j, cw, v, kw, at, 1, mr, b, bp.sstride, load)
		}
	}
}

// tile runs the kernel for C[i:i+6, j:j+cw] (valid of the cw columns
// inside C) with A(i+r, pc+p) at a[r*rs+p*cs] and B(pc+p, j+jj) at
// b[p*16+jj], or b[bn+p*16+jj-16] for the second strip. A tile that
// overhangs C (last rows or columns) goes through w.tmp, so the kernel, and
// with it the order of operations, is the same for every tile.
func (w *worker) tile(g *problem, i, j, cw, valid, kw int, a []float32, rs, cs int, b []float32, bn int, load bool) {
	rows := min(mr, g.m-i)
	if rows == mr && valid == cw {
		microKernel(g.im, cw, kw, a, rs, cs, b, bn, g.c[i*g.ldc+j:], g.ldc, load)
		return
	}
	t := w.tmp[:]
	if load {
		for r := 0; r < rows; r++ {
			copy(t[r*tmpWidth:r*tmpWidth+valid], g.c[(i+r)*g.ldc+j:])
		}
	}
	microKernel(g.im, cw, kw, a, rs, cs, b, bn, t, tmpWidth, load)
	for r := 0; r < rows; r++ {
		copy(g.c[(i+r)*g.ldc+j:(i+r)*g.ldc+j+valid], t[r*tmpWidth:])
	}
}
