//go:build arm64 || ppc64 || ppc64le || s390x || riscv64 || loong64

package refcheck

// fusesMultiplyAdd: the Go compiler may fuse x*y+z here.
const fusesMultiplyAdd = true
