package main

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/pcall"
)

// This file holds the two places where `runplug call` touches raw memory,
// and so must use unsafe:
//
//   - cStrings copies the s:TEXT arguments into an anonymous mapping outside
//     the Go heap, so that the pointers handed to the plugin stay valid and
//     never move while the call runs (the garbage collector neither scans
//     nor moves that memory); free unmaps it after the call.
//   - readCString reads the NUL-terminated string at a pointer a plugin
//     returned (--ret str). The pointer comes from native code and may be
//     wild, so the read runs with debug.SetPanicOnFault: a fault becomes a
//     recovered panic and an error, never a crash of the host.

// cStrings is a block of NUL-terminated strings outside the Go heap.
type cStrings struct {
	mem []byte // from unix.Mmap; nil when no string was added
}

// newCStrings copies texts into one anonymous mapping and returns the
// address of each copy.
func newCStrings(texts []string) (*cStrings, []uint64, error) {
	cs := &cStrings{}
	if len(texts) == 0 {
		return cs, nil, nil
	}
	size := 0
	for _, t := range texts {
		size += len(t) + 1
	}
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, nil, fmt.Errorf("allocate %d bytes for string arguments: %w", size, err)
	}
	cs.mem = mem
	addrs := make([]uint64, len(texts))
	off := 0
	for i, t := range texts {
		copy(mem[off:], t)
		mem[off+len(t)] = 0
		addrs[i] = addrOf(mem[off:])
		off += len(t) + 1
	}
	return cs, addrs, nil
}

// free releases the strings; the addresses must not be used afterwards.
func (cs *cStrings) free() error {
	if cs == nil || cs.mem == nil {
		return nil
	}
	err := unix.Munmap(cs.mem)
	cs.mem = nil
	return err
}

// maxCString bounds how far readCString looks for the terminating NUL.
const maxCString = 1 << 20

// errNoNUL reports a string longer than maxCString.
var errNoNUL = errors.New("no NUL terminator within 1 MiB")

// readCString returns the NUL-terminated string at addr, which must not be
// 0. A fault while reading is returned as an error.
func readCString(addr uint64) (string, error) {
	if addr == 0 {
		return "", fmt.Errorf("read string at %#x: not a user-space pointer", addr)
	}
	s, err := pcall.CString(uintptr(addr), maxCString+1)
	if err != nil {
		return "", err
	}
	if len(s) > maxCString {
		return "", fmt.Errorf("read string at %#x: %w", addr, errNoNUL)
	}
	return s, nil
}

// addrOf returns the address of the first byte of b, which must not be
// empty and must not be Go heap memory that could move (tests use it on
// mmap'd pages).
func addrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }
