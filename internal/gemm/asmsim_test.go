//go:build !purego && amd64

package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The AVX-512 kernels cannot run on a CPU without AVX-512, and the
// machines this was written on have none. TestKernelsSimulated therefore
// interprets the assembler's own expanded listing of kernel_amd64.s (go
// tool asm -S: macros expanded, branch targets resolved) instruction by
// instruction, with exact float32 FMAs, and checks every kernel against the
// FMA chain. Where the CPU can run a kernel, the simulation must also match
// the hardware bit for bit, which checks the simulator (operand order,
// addressing) against the real thing.

type simInst struct {
	off  int
	op   string
	args []string
}

func asmListing(t *testing.T) map[string][]simInst {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to run the assembler")
	}
	goroot, err := exec.Command(goBin, "env", "GOROOT").Output()
	if err != nil {
		t.Skip("go env GOROOT:", err)
	}
	cmd := exec.Command(goBin, "tool", "asm", "-S", "-p", "gemm",
		"-I", filepath.Join(strings.TrimSpace(string(goroot)), "pkg", "include"),
		"-o", filepath.Join(t.TempDir(), "k.o"), "kernel_amd64.s")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool asm: %v", err)
	}
	fnRe := regexp.MustCompile(`^gemm\.(\w+) STEXT`)
	inRe := regexp.MustCompile(`^\t0x[0-9a-f]+ (\d+) \(\S+\)\t(\S+)\t?(.*)$`)
	funcs := map[string][]simInst{}
	cur := ""
	for _, line := range strings.Split(string(out), "\n") {
		if m := fnRe.FindStringSubmatch(line); m != nil {
			cur = m[1]
			continue
		}
		if m := inRe.FindStringSubmatch(line); m != nil && cur != "" {
			off, _ := strconv.Atoi(m[1])
			var args []string
			if m[3] != "" {
				args = strings.Split(m[3], ", ")
			}
			funcs[cur] = append(funcs[cur], simInst{off, m[2], args})
		}
	}
	return funcs
}

type simMachine struct {
	gpr    map[string]int64
	kreg   map[string]int64 // opmask registers K1..K7
	vec    [32][16]float32
	mem    map[int64]float32 // 4-byte cells of the mapped arrays
	ints   map[int64]int64   // 8-byte cells of the mapped int arrays
	args   map[string]int64
	writes map[int64]bool
}

var memRe = regexp.MustCompile(`^(-?\d*)\((\w+)\)(?:\((\w+)\*(\d)\))?$`)

func (m *simMachine) addr(op string) int64 {
	p := memRe.FindStringSubmatch(op)
	if p == nil {
		panic("bad memory operand " + op)
	}
	d, _ := strconv.ParseInt(p[1], 10, 64)
	a := m.gpr[p[2]] + d
	if p[3] != "" {
		s, _ := strconv.ParseInt(p[4], 10, 64)
		a += m.gpr[p[3]] * s
	}
	return a
}

// vreg parses Y7 / Z19 into its number and lane count.
func vreg(op string) (n, lanes int, ok bool) {
	if len(op) < 2 || (op[0] != 'Y' && op[0] != 'Z') {
		return 0, 0, false
	}
	n, err := strconv.Atoi(op[1:])
	if err != nil {
		return 0, 0, false
	}
	if op[0] == 'Y' {
		return n, 8, true
	}
	return n, 16, true
}

func (m *simMachine) load(a int64) float32 {
	v, ok := m.mem[a]
	if !ok {
		panic(fmt.Sprintf("load from unmapped address %#x", a))
	}
	return v
}

func (m *simMachine) run(prog []simInst) {
	at := map[int]int{}
	for i, in := range prog {
		at[in.off] = i
	}
	imm := func(s string) int64 {
		v, err := strconv.ParseInt(strings.TrimPrefix(s, "$"), 10, 64)
		if err != nil {
			panic("bad immediate " + s)
		}
		return v
	}
	var flag int64 // result of the last flag-setting instruction
	for pc, steps := 0, 0; ; steps++ {
		if steps > 1e6 {
			panic("runaway kernel")
		}
		in := prog[pc]
		pc++
		a := in.args
		switch in.op {
		case "TEXT", "FUNCDATA", "PCDATA", "PREFETCHT0", "PREFETCHT1", "PREFETCHT2", "VZEROUPPER":
		case "RET":
			return
		case "MOVQ":
			if v, ok := m.gpr[a[0]]; ok { // register to register
				m.gpr[a[1]] = v
				break
			}
			if memRe.MatchString(a[0]) { // an int from memory
				v, ok := m.ints[m.addr(a[0])]
				if !ok {
					panic(fmt.Sprintf("int load from unmapped address %#x", m.addr(a[0])))
				}
				m.gpr[a[1]] = v
				break
			}
			name := a[0][:strings.IndexAny(a[0], "+")]
			m.gpr[a[1]] = m.args[name]
		case "SHLQ":
			m.gpr[a[1]] <<= imm(a[0])
		case "LEAQ":
			m.gpr[a[1]] = m.addr(a[0])
		case "ADDQ", "SUBQ":
			x := int64(0)
			if strings.HasPrefix(a[0], "$") {
				x = imm(a[0])
			} else {
				x = m.gpr[a[0]]
			}
			if in.op == "SUBQ" {
				x = -x
			}
			m.gpr[a[1]] += x
			flag = m.gpr[a[1]]
		case "DECQ":
			if _, ok := m.gpr[a[0]]; !ok && strings.HasSuffix(a[0], "(FP)") {
				// An argument slot used as a counter.
				m.gpr[a[0]] = m.args[a[0][:strings.IndexAny(a[0], "+")]]
			}
			m.gpr[a[0]]--
			flag = m.gpr[a[0]]
		case "TESTQ":
			flag = m.gpr[a[0]] & m.gpr[a[1]]
		case "CMPQ": // Plan 9 order: CMPQ x, y; JLT jumps if x < y
			flag = m.gpr[a[0]] - imm(a[1])
		case "JNE", "JEQ", "JLT", "JGE", "JMP":
			take := map[string]bool{"JNE": flag != 0, "JEQ": flag == 0, "JLT": flag < 0, "JGE": flag >= 0, "JMP": true}[in.op]
			if take {
				t, _ := strconv.Atoi(a[0])
				pc = at[t]
			}
		case "VPXORD", "VXORPS":
			n, _, _ := vreg(a[2])
			if a[0] != a[1] || a[1] != a[2] {
				panic("only zeroing xor is simulated")
			}
			m.vec[n] = [16]float32{}
		case "KMOVW":
			m.kreg[a[1]] = m.gpr[a[0]] & 0xffff
		case "VMOVUPS.Z": // masked load, zeroing: VMOVUPS.Z mem, K, Z
			n, lanes, _ := vreg(a[2])
			base, mask := m.addr(a[0]), m.kreg[a[1]]
			m.vec[n] = [16]float32{}
			for j := 0; j < lanes; j++ {
				if mask>>j&1 != 0 {
					m.vec[n][j] = m.load(base + 4*int64(j))
				}
			}
		case "VMOVUPS":
			if len(a) == 3 { // masked store: VMOVUPS Z, K, mem
				n, lanes, _ := vreg(a[0])
				base, mask := m.addr(a[2]), m.kreg[a[1]]
				for j := 0; j < lanes; j++ {
					if mask>>j&1 == 0 {
						continue
					}
					if _, ok := m.mem[base+4*int64(j)]; !ok {
						panic(fmt.Sprintf("store to unmapped address %#x", base+4*int64(j)))
					}
					m.mem[base+4*int64(j)] = m.vec[n][j]
					m.writes[base+4*int64(j)] = true
				}
				break
			}
			if n, lanes, ok := vreg(a[0]); ok { // store
				base := m.addr(a[1])
				for j := 0; j < lanes; j++ {
					if _, ok := m.mem[base+4*int64(j)]; !ok {
						panic(fmt.Sprintf("store to unmapped address %#x", base+4*int64(j)))
					}
					m.mem[base+4*int64(j)] = m.vec[n][j]
					m.writes[base+4*int64(j)] = true
				}
			} else {
				n, lanes, _ := vreg(a[1])
				base := m.addr(a[0])
				m.vec[n] = [16]float32{}
				for j := 0; j < lanes; j++ {
					m.vec[n][j] = m.load(base + 4*int64(j))
				}
			}
		case "VBROADCASTSS":
			n, lanes, _ := vreg(a[1])
			x := m.load(m.addr(a[0]))
			m.vec[n] = [16]float32{}
			for j := 0; j < lanes; j++ {
				m.vec[n][j] = x
			}
		case "VFMADD231PS": // Plan 9 order: src3, src2, dst; dst = src2*src3 + dst
			d, lanes, _ := vreg(a[2])
			s2, _, _ := vreg(a[1])
			s3, _, _ := vreg(a[0])
			var r [16]float32
			for j := 0; j < lanes; j++ {
				r[j] = fma32(m.vec[s2][j], m.vec[s3][j], m.vec[d][j])
			}
			m.vec[d] = r
		default:
			panic(fmt.Sprintf("instruction %s %v not simulated", in.op, a))
		}
	}
}

// simTile is one random kernel call: tiles 6 x w tiles stacked down one
// column of C (one for the one-tile kernels), over kc steps.
type simTile struct {
	tiles, kc, rs, cs, bn, ldc int
	v                          int // columns of C written (the 48-wide kernel's mask)
	load                       bool
	a, b, c                    []float32
}

func newSimTile(r *rand.Rand, w, tiles int) simTile {
	t := simTile{tiles: tiles, kc: []int{1, 2, 3, 4, 5, 7, 8, 9, 13}[r.IntN(9)], load: r.IntN(2) == 0}
	if r.IntN(2) == 0 {
		t.rs, t.cs = 1, mr*tiles // packed
	} else {
		t.rs, t.cs = t.kc+r.IntN(3), 1 // in place
	}
	alen := (mr*tiles-1)*t.rs + (t.kc-1)*t.cs + 1
	blen := sw * t.kc
	if w > sw {
		t.bn = sw*t.kc + sw*r.IntN(3)
		blen += (w/sw - 1) * t.bn
	}
	t.v = w
	if w == 48 {
		t.v = 2*sw + 1 + r.IntN(sw)
	}
	t.ldc = w + r.IntN(5)
	gen := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	t.a, t.b, t.c = gen(alen), gen(blen), gen((mr*tiles-1)*t.ldc+t.v)
	return t
}

// want is the FMA chain for the tile.
func (t simTile) want(w int) []float32 {
	c := append([]float32(nil), t.c...)
	for i := 0; i < mr*t.tiles; i++ {
		for j := 0; j < t.v; j++ {
			var acc float32
			if t.load {
				acc = c[i*t.ldc+j]
			}
			for p := 0; p < t.kc; p++ {
				bv := t.b[j/sw*t.bn+p*sw+j%sw]
				acc = fma32(t.a[i*t.rs+p*t.cs], bv, acc)
			}
			c[i*t.ldc+j] = acc
		}
	}
	return c
}

func (t simTile) simulate(prog []simInst) []float32 {
	const abase, bbase, cbase = 0x10000, 0x40000, 0x80000
	flags := int64(0)
	if t.load {
		flags = 1
	}
	m := &simMachine{
		gpr:    map[string]int64{},
		kreg:   map[string]int64{},
		mem:    map[int64]float32{},
		writes: map[int64]bool{},
		args: map[string]int64{"tiles": int64(t.tiles), "kc": int64(t.kc), "a": abase, "rs": int64(t.rs), "cs": int64(t.cs),
			"b": bbase, "bn": int64(t.bn), "c": cbase, "ldc": int64(t.ldc), "flags": flags,
			"mask": int64(1)<<max(0, t.v-2*sw) - 1},
	}
	for i := range m.vec {
		for j := range m.vec[i] {
			m.vec[i][j] = float32(math.NaN()) // registers start as garbage
		}
	}
	for base, arr := range map[int64][]float32{abase: t.a, bbase: t.b, cbase: t.c} {
		for i, v := range arr {
			m.mem[base+4*int64(i)] = v
		}
	}
	m.run(prog)
	out := make([]float32, len(t.c))
	for i := range out {
		out[i] = m.mem[cbase+4*int64(i)]
	}
	return out
}

func TestKernelsSimulated(t *testing.T) {
	funcs := asmListing(t)
	for _, k := range []struct {
		name   string
		w      int
		im     Impl
		column bool // runs a column of tiles (microKernelCol)
	}{
		{"kern6x16AVX2", 16, ImplAVX2, false}, {"kern6x16AVX512", 16, ImplAVX512, false},
		{"kern6x16AVX2N", 16, ImplAVX2, true}, {"kern6x32AVX512N", 32, ImplAVX512, true},
		{"kern6x48AVX512N", 48, ImplAVX512, true}, {"kern6x64AVX512N", 64, ImplAVX512, true},
	} {
		t.Run(k.name, func(t *testing.T) {
			prog := funcs[k.name]
			if len(prog) == 0 {
				t.Fatalf("%s not in the listing", k.name)
			}
			r := rand.New(rand.NewPCG(uint64(k.w), uint64(len(k.name))))
			hw := 0
			for trial := 0; trial < 100; trial++ {
				tiles := 1
				if k.column {
					tiles = 1 + r.IntN(3)
				}
				tile := newSimTile(r, k.w, tiles)
				want := tile.want(k.w)
				got := tile.simulate(prog)
				// want leaves C outside the tile as it was, so this also
				// checks that the kernel writes nothing else.
				sameBits(t, fmt.Sprintf("simulated %s trial %d (tiles %d kc %d rs %d cs %d ldc %d load %v v %d)",
					k.name, trial, tile.tiles, tile.kc, tile.rs, tile.cs, tile.ldc, tile.load, tile.v), got, want)
				if Supported(k.im) {
					c := append([]float32(nil), tile.c...)
					if k.column {
						microKernelCol(k.im, k.w, tile.v, tiles, tile.kc, tile.a, tile.rs, tile.cs, tile.b, tile.bn, c, tile.ldc, tile.load, nextTile(tile.a, tile.rs, tile.cs))
					} else {
						microKernel(k.im, k.w, tile.kc, tile.a, tile.rs, tile.cs, tile.b, tile.bn, c, tile.ldc, tile.load)
					}
					sameBits(t, fmt.Sprintf("%s on this CPU vs simulated, trial %d", k.name, trial), c, got)
					hw++
				}
			}
			t.Logf("100 simulated tiles match the FMA chain; %d also checked against this CPU", hw)
		})
	}
}

// TestOffsetKernelSimulated checks kern6x32AVX512NOff the same way: a
// column of tiles whose A rows are six consecutive floats at a per-step
// offset, against the FMA chain, in simulation and (where it runs) on this
// CPU.
func TestOffsetKernelSimulated(t *testing.T) {
	for _, k := range []struct {
		name string
		w    int
	}{{"kern6x16AVX512NOff", 16}, {"kern6x32AVX512NOff", 32}, {"kern6x48AVX512NOff", 48}, {"kern6x64AVX512NOff", 64}} {
		t.Run(k.name, func(t *testing.T) { testOffsetKernelSimulated(t, asmListing(t)[k.name], k.name, k.w) })
	}
}

// testOffsetKernelSimulated checks the w-wide offset kernel name (its
// listing prog); the 16- and 48-wide ones also with a last strip only
// partly inside C, under their mask.
func testOffsetKernelSimulated(t *testing.T, prog []simInst, name string, w int) {
	if len(prog) == 0 {
		t.Fatal(name + " not in the listing")
	}
	r := rand.New(rand.NewPCG(uint64(w), 6))
	gen := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		return x
	}
	hw := 0
	for trial := 0; trial < 60; trial++ {
		tiles := 1 + r.IntN(3)
		kc := []int{1, 2, 3, 4, 5, 7, 8, 9, 13}[r.IntN(9)]
		load := r.IntN(2) == 0
		a := gen(6*tiles + 3*kc)
		off := make([]int, kc)
		for p := range off {
			off[p] = r.IntN(3*kc + 1)
		}
		bn := sw*kc + sw*r.IntN(3)
		b := gen((w/sw-1)*bn + sw*kc)
		ldc := w + r.IntN(5)
		v, mask := w, int64(0xffff) // columns of C, and the last strip's mask
		if (w == 16 || w == 48) && r.IntN(2) == 0 {
			last := 1 + r.IntN(sw)
			v, mask = w-sw+last, 1<<last-1
		}
		c := gen((6*tiles-1)*ldc + v)
		want := append([]float32(nil), c...)
		for i := 0; i < 6*tiles; i++ {
			for j := 0; j < v; j++ {
				var acc float32
				if load {
					acc = want[i*ldc+j]
				}
				for p := 0; p < kc; p++ {
					bv := b[j/sw*bn+p*sw+j%sw]
					acc = fma32(a[off[p]+i], bv, acc)
				}
				want[i*ldc+j] = acc
			}
		}
		const abase, obase, bbase, cbase = 0x10000, 0x20000, 0x40000, 0x80000
		flags := int64(0)
		if load {
			flags = 1
		}
		m := &simMachine{gpr: map[string]int64{}, kreg: map[string]int64{}, mem: map[int64]float32{}, ints: map[int64]int64{}, writes: map[int64]bool{},
			args: map[string]int64{"tiles": int64(tiles), "kc": int64(kc), "a": abase, "off": obase, "b": bbase,
				"bn": int64(bn), "c": cbase, "ldc": int64(ldc), "flags": flags, "mask": mask}}
		for base, arr := range map[int64][]float32{abase: a, bbase: b, cbase: c} {
			for i, v := range arr {
				m.mem[base+4*int64(i)] = v
			}
		}
		for p, o := range off {
			m.ints[obase+8*int64(p)] = int64(o)
		}
		m.run(prog)
		got := make([]float32, len(c))
		for i := range got {
			got[i] = m.mem[cbase+4*int64(i)]
		}
		name := fmt.Sprintf("trial %d (tiles %d kc %d ldc %d load %v columns %d)", trial, tiles, kc, ldc, load, v)
		sameBits(t, "simulated "+name, got, want)
		if Supported(ImplAVX512) {
			hwc := append([]float32(nil), c...)
			microKernelColOff(ImplAVX512, w, v, tiles, kc, a, off, b, bn, hwc, ldc, load)
			sameBits(t, "this CPU, "+name, hwc, got)
			hw++
		}
	}
	t.Logf("60 simulated columns match the FMA chain; %d also checked against this CPU", hw)
}
