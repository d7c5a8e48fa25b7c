package runplug_test

import (
	"runtime"
	"unsafe"
)

// This file holds the one unsafe step of the end-to-end tests: handing
// the address of Go memory to plugin code. The memory is pinned
// (runtime.Pinner) for as long as the plugin may use the address, so the
// garbage collector neither moves nor frees it; unpin releases it.

// pinned is Go memory whose address a plugin may use until unpin.
type pinned struct {
	pin runtime.Pinner
}

// bytesAddr pins b (which must not be empty) and returns its address.
func (p *pinned) bytesAddr(b []byte) uint64 {
	p.pin.Pin(&b[0])
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

// wordAddr pins w and returns its address.
func (p *pinned) wordAddr(w *uint64) uint64 {
	p.pin.Pin(w)
	return uint64(uintptr(unsafe.Pointer(w)))
}

// unpin ends every pin.
func (p *pinned) unpin() { p.pin.Unpin() }
