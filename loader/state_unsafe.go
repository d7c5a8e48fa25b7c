package loader

import "unsafe"

// mappedAddr returns the address of b's first byte. b must be memory the
// Go heap does not own (an mmap'd buffer): its address is handed to plugin
// code, which the garbage collector knows nothing about.
func mappedAddr(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
