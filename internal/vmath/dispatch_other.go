//go:build purego || !amd64

package vmath

// Without assembly only the Go implementation exists; the functions below
// are never called (Supported reports false for the assembly sets).
const (
	hasAVX512 = false
	hasAVX2   = false
)

const (
	opExp = iota
	opSiLU
	opGELU
	opQuickGELU
)

func unaryAsm(Impl, int, *float32, *float32, int) { panic("vmath: no assembly") }
func gegluAsm(Impl, *float32, *float32, *float32, *float32, *float32, int) {
	panic("vmath: no assembly")
}
func scaleShiftAsm(Impl, *float32, *float32, int, float32, float32, int) { panic("vmath: no assembly") }
func maxScaledAsm(Impl, *float32, int, float32, *[16]float32)            { panic("vmath: no assembly") }
func expSumAsm(Impl, *float32, int, float32, float32, *[16]float32)      { panic("vmath: no assembly") }
func mulAsm(Impl, *float32, int, float32)                                { panic("vmath: no assembly") }
func sumAsm(Impl, *float32, int, *[32]float64)                           { panic("vmath: no assembly") }
func sumSqDiffAsm(Impl, *float32, int, float64, *[32]float64)            { panic("vmath: no assembly") }

func transposeAddBias16Asm(*float32, int, *float32, int, *float32) { panic("vmath: no assembly") }

func widenTranspose16Asm(*float32, *uint16, int) { panic("vmath: no assembly") }

func pairBF16Asm(*uint32, *float32, *float32, int) { panic("vmath: no assembly") }
func roundBF16Asm(*uint16, *float32, int)          { panic("vmath: no assembly") }
func transpose16Asm(*uint32, int, *uint32, int)    { panic("vmath: no assembly") }

func winogradIn4Asm(_, _, _, _, _, _, _, _ *float32, _ int) { panic("vmath: no assembly") }
func winogradOut2Asm(_, _, _, _, _, _ *float32, _ int)      { panic("vmath: no assembly") }
