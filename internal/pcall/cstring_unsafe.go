package pcall

import (
	"errors"
	"fmt"
	"runtime/debug"
	"unsafe"
)

// ErrBadAddress is wrapped by the error of a read of native memory that is
// not mapped or not readable: the read stops there and the host goes on.
var ErrBadAddress = errors.New("native memory not accessible")

// ErrNoNUL is wrapped by the error of CStringInto when the string and its
// NUL do not fit in the destination.
var ErrNoNUL = errors.New("no NUL terminator within the bound")

// userTop is where x86-64 user addresses end: nothing at or above it (nor
// in the first page) is a pointer a plugin could hand out.
const userTop = 1 << 47

// CString returns a copy of the NUL-terminated C string at addr in this
// process's memory, up to its NUL or max bytes, whichever comes first (""
// for NULL). Bytes past the first max are not read. An address that is
// not mapped or not readable, before the NUL or the bound, is an error
// wrapping ErrBadAddress, never a crash: the read runs with faults turned
// into panics (debug.SetPanicOnFault) and stops at the first one.
func CString(addr uintptr, max int) (string, error) {
	var s string
	_, err := scanCString(addr, max, func(b []byte) { s = string(b) })
	return s, err
}

// CStringInto copies the NUL-terminated C string at addr, NUL included,
// into dst and returns its length (dst[n] is the NUL), without allocating.
// A string whose NUL does not fit in dst is an error wrapping ErrNoNUL; a
// bad address, one wrapping ErrBadAddress. NULL copies "" (dst[0] = 0,
// when dst has room).
func CStringInto(dst []byte, addr uintptr) (int, error) {
	// Up to len(dst) bytes: a scan that stops before that stopped at the
	// NUL, which then fits.
	n, err := scanCString(addr, len(dst), func(b []byte) { copy(dst, b) })
	if err != nil {
		return 0, err
	}
	if n == len(dst) {
		return 0, fmt.Errorf("read C string at %#x: %d bytes: %w", addr, len(dst), ErrNoNUL)
	}
	dst[n] = 0
	return n, nil
}

// scanCString is the one reader of C strings: it finds the string's
// length at addr (at most max bytes) and hands the bytes to use, both
// under SetPanicOnFault, so that memory unmapped meanwhile is an error too.
func scanCString(addr uintptr, max int, use func([]byte)) (n int, err error) {
	if addr == 0 {
		use(nil)
		return 0, nil
	}
	if max < 0 {
		return 0, fmt.Errorf("read C string at %#x: negative bound %d", addr, max)
	}
	// Nothing lives in the first page, and x86-64 user addresses stop at
	// 2^47: such a value is not a pointer (and checkptr would reject
	// building one).
	if addr < 4096 || addr >= userTop {
		return 0, fmt.Errorf("read C string at %#x: not a user-space pointer: %w", addr, ErrBadAddress)
	}
	if userTop-addr < uintptr(max) {
		max = int(userTop - addr)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			f, ok := v.(interface{ Addr() uintptr })
			if !ok {
				panic(v)
			}
			n, err = 0, fmt.Errorf("read C string at %#x: fault at %#x: %w", addr, f.Addr(), ErrBadAddress)
		}
	}()
	// addr is native memory (a plugin's image or the C heap), never a Go
	// object, so turning the integer into a pointer hides nothing from the
	// garbage collector; the indirection tells vet so.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	for n < max && *(*byte)(unsafe.Add(p, n)) != 0 {
		n++
	}
	use(unsafe.Slice((*byte)(p), n))
	return n, nil
}
