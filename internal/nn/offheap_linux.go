//go:build linux

package nn

import (
	"syscall"
	"unsafe"
)

// allocWords returns n words of zeroed memory outside the Go heap and the
// function that frees it. Packed weights live there: a gigabyte of them
// on the heap would double the collector's target and so the resident
// size. Huge pages where the system grants them on request, since a fresh
// gigabyte in 4 KiB pages costs a quarter of a million faults.
func allocWords(n int) ([]uint32, func()) {
	if n == 0 {
		return nil, func() {}
	}
	b, err := syscall.Mmap(-1, 0, 4*n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]uint32, n), func() {}
	}
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE) // ignored where unsupported
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), n), func() { _ = syscall.Munmap(b) }
}
