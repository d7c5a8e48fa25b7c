//go:build linux && amd64

package baseline

// The system loader as a baseline: glibc's dlopen, dlsym and dlclose, for
// the side-by-side benchmarks (runplug's own loader against the one users
// would otherwise call) and as an oracle in tests. runplug itself never
// loads a plugin this way. The C side is baseline.c.

/*
#cgo CFLAGS: -O2 -Wall -fno-omit-frame-pointer
#include <stdlib.h>
#include "baseline.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// ErrSystemLibraryClosed is returned (wrapped) by the methods of a
// SystemLibrary after Close.
var ErrSystemLibraryClosed = errors.New("sandbox: system library closed")

// SystemLibrary is a shared object loaded by the system's dynamic loader
// (glibc's dlopen with RTLD_NOW|RTLD_LOCAL), not by runplug. It exists for
// benchmarks that compare runplug with dlopen and for tests that need the
// system loader's answer as an oracle. Its methods are safe for concurrent
// use; calls into the library's code made through addresses from Dlsym are
// not protected.
type SystemLibrary struct {
	path string

	mu     sync.Mutex
	handle uint64 // 0 once closed
}

// DlopenNow loads path with dlopen(path, RTLD_NOW|RTLD_LOCAL): every
// relocation is bound at once and the library's symbols are not made
// global. A path without a slash is searched for as dlopen does. Loading a
// library the process already has only takes another reference to it: use
// IsLoaded first when that matters (a benchmark of dlopen must not find
// the library loaded, or dlclose would unload nothing).
func DlopenNow(path string) (*SystemLibrary, error) {
	cs := C.CString(path)
	r := C.rp_sys_dlopen(cs, 0)
	C.free(unsafe.Pointer(cs))
	if r.err != nil {
		return nil, fmt.Errorf("sandbox: dlopen %s: %s", path, takeCError(r.err))
	}
	return &SystemLibrary{path: path, handle: uint64(r.value)}, nil
}

// IsLoaded reports whether the system loader already has path loaded in
// this process (dlopen with RTLD_NOLOAD; the reference that takes is
// dropped again). It never loads anything.
func IsLoaded(path string) bool {
	cs := C.CString(path)
	r := C.rp_sys_dlopen(cs, 1)
	C.free(unsafe.Pointer(cs))
	if r.value == 0 {
		return false
	}
	C.free(unsafe.Pointer(C.rp_sys_dlclose(r.value)))
	return true
}

// Path returns the path the library was opened with.
func (l *SystemLibrary) Path() string { return l.path }

// Dlsym returns the address of the symbol name in the library or its
// dependencies (dlsym on the handle).
func (l *SystemLibrary) Dlsym(name string) (uintptr, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handle == 0 {
		return 0, fmt.Errorf("sandbox: dlsym %q in %s: %w", name, l.path, ErrSystemLibraryClosed)
	}
	cs := C.CString(name)
	r := C.rp_sys_dlsym(C.uint64_t(l.handle), cs)
	C.free(unsafe.Pointer(cs))
	if r.err != nil {
		return 0, fmt.Errorf("sandbox: dlsym %q in %s: %s", name, l.path, takeCError(r.err))
	}
	return uintptr(r.value), nil
}

// Close drops the reference DlopenNow took (dlclose): the system loader
// runs the destructors and unmaps the library when it was the last one.
// It is safe to call twice; the second call does nothing.
func (l *SystemLibrary) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.handle == 0 {
		return nil
	}
	e := C.rp_sys_dlclose(C.uint64_t(l.handle))
	l.handle = 0
	if e != nil {
		return fmt.Errorf("sandbox: dlclose %s: %s", l.path, takeCError(e))
	}
	return nil
}

// takeCError converts and frees a malloc'd C error message.
func takeCError(e *C.char) string {
	s := C.GoString(e)
	C.free(unsafe.Pointer(e))
	return s
}

// CallUnprotected2 calls the native function fn(a, b) (two integer
// arguments, an integer result) with one plain cgo call and no protection
// at all: a fault in it crashes the process. It is the baseline that Call
// is measured against (the cost of protection), not something to call
// plugins with.
func CallUnprotected2(fn uintptr, a, b int64) int64 {
	return int64(C.rp_sys_call2(C.uint64_t(fn), C.int64_t(a), C.int64_t(b)))
}

// rpBaselineAdd is the Go function of LoopExport, called from C through
// cgo's //export machinery.
//
//export rpBaselineAdd
func rpBaselineAdd(a, b C.int64_t) C.int64_t { return a + b }

// LoopUnprotected calls the native function fn(i, 1) (two integer
// arguments, an integer result) for i in [0, n) from a C loop reached by
// one plain cgo call (no protected call), and returns the sum of the
// results. With fn a Callback's address it measures a Go callback called
// from C, against LoopExport.
func LoopUnprotected(fn uintptr, n int64) int64 {
	return int64(C.rp_sys_loop2(C.uint64_t(fn), C.int64_t(n)))
}

// FaultLoop takes n faults the way a C program recovers from one (a read
// of a PROT_NONE page, SIGSEGV, a handler that siglongjmps back, restoring
// the signal mask) in one cgo call, and returns how many it took (-1 when
// it could not set up): the kernel's round trip, the floor a contained
// fault is measured against. Its handler replaces the process's SIGSEGV
// handler for the loop and chains every other fault to it.
func FaultLoop(n int64) int64 { return int64(C.rp_sys_fault_loop(C.int64_t(n))) }

// LoopExport is LoopUnprotected calling a cgo //export Go function that
// returns a+b: the baseline of a Go function called from C.
func LoopExport(n int64) int64 { return int64(C.rp_sys_loop_export(C.int64_t(n))) }

// rpBaselineHandle is the Go function of LoopExportHandle: it calls the
// func(int64, int64) int64 of the cgo.Handle h.
//
//export rpBaselineHandle
func rpBaselineHandle(h C.uintptr_t, a, b C.int64_t) C.int64_t {
	return C.int64_t(cgo.Handle(h).Value().(func(int64, int64) int64)(int64(a), int64(b)))
}

// LoopExportHandle is LoopExport calling fn (a Go closure) the way cgo
// code does: through one //export function that C calls with a
// cgo.Handle of fn as its user data.
func LoopExportHandle(fn func(a, b int64) int64, n int64) int64 {
	h := cgo.NewHandle(fn)
	defer h.Delete()
	return int64(C.rp_sys_loop_export_handle(C.uintptr_t(h), C.int64_t(n)))
}

// ExportAddAddr returns the address of the C side of a cgo //export Go
// function int64_t add(int64_t a, int64_t b), for native code to call
// through a pointer as it would a Callback's: the baseline of a Go
// function called from plugin code. (It has none of a Callback's
// bracketing: a fault in it, called inside a protected call, would be
// taken for the plugin's.)
func ExportAddAddr() uintptr { return uintptr(C.rp_sys_export_add_addr()) }

// CallUnprotectedS24 calls the native function fn, which takes and returns
// an S24 by value, with one plain cgo call and no protection: the baseline
// that a general call (a struct on the stack, a result in memory) is
// measured against.
func CallUnprotectedS24(fn uintptr, s S24) S24 {
	r := C.rp_sys_call_s24(C.uint64_t(fn), C.struct_rp_s24{a: C.int64_t(s.A), b: C.int64_t(s.B), c: C.int64_t(s.C)})
	return S24{int64(r.a), int64(r.b), int64(r.c)}
}

// rpBaselineExportRecover is the Go function of LoopExportRecover: a cgo
// //export function that adds, guarded against panics by a deferred
// recover of the same shape as dispatch's (an open-coded defer whose
// closure tests a flag; a plain //export function has no such guard: its
// panic crashes the process).
//
//export rpBaselineExportRecover
func rpBaselineExportRecover(a, b C.int64_t) (r C.int64_t) {
	done := false
	defer func() {
		if !done && recover() != nil {
			r = 0
		}
	}()
	r = a + b
	done = true
	return r
}

// LoopExportRecover is LoopExport (a C loop calling a cgo //export
// function add(i, 1), n times) with the export guarded by a deferred
// recover, as a Callback's Go function is: the baseline with the same
// panic containment (BenchmarkCallbackInterleaved in package loader).
func LoopExportRecover(n int64) int64 { return int64(C.rp_sys_loop_export_recover(C.int64_t(n))) }
