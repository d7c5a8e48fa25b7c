//go:build linux && (amd64 || arm64) && cgo

package dlsvc

// The cgo half of the dynamic-linker services (dl.c): the table of the
// objects runplug loaded, which unwinders, dladdr and dl_iterate_phdr read
// from C, and the C functions the loader binds those imports to.

/*
#cgo CFLAGS: -O2 -Wall -fno-omit-frame-pointer -I${SRCDIR}/../pcall
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <dlfcn.h>
#include <unistd.h>
#include "dl.h"
#include "sandbox.h"

*/
import "C"

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	// The protected-call core's C: rp_self and the lock bookkeeping
	// (locks.h) that this package's C uses.
	_ "github.com/runplug/runplug/internal/pcall"
)

// DLDesc describes a loaded object to the object table. Addresses are
// absolute; the object's image must stay mapped until its DLObject is
// removed.
type DLDesc struct {
	Base   uintptr // load base (what virtual address 0 maps to)
	Lo, Hi uintptr // [Lo, Hi): its PT_LOAD segments as mapped
	Phdrs  []byte  // its program headers, raw Elf64_Phdr entries (copied), when PhdrAddr is 0
	// PhdrAddr and PhdrNum: its program headers in its image (PT_PHDR)
	PhdrAddr uintptr
	PhdrNum  uint64
	EHFrame  uintptr // PT_GNU_EH_FRAME, or 0
	Dynamic  uintptr // PT_DYNAMIC, or 0
	Symtab   uintptr // DT_SYMTAB (NSyms entries), or 0
	NSyms    uint64
	Strtab   uintptr // DT_STRTAB (Strsz bytes)
	Strsz    uint64
	Path     string // as dladdr and dl_iterate_phdr report it
	// UnwindBacktrace and UnwindGetIP are _Unwind_Backtrace and
	// _Unwind_GetIP of the libgcc_s in the object's scope (0: none),
	// which backtrace() called by the object walks with.
	UnwindBacktrace, UnwindGetIP uintptr
	// Deps are the handles of its direct dependencies in the table.
	Deps []uintptr
}

// DLObject is an object's entry in the table (the zero value is none).
// Its Handle is what the dynamic-linker functions give plugin code for it
// (dlopen's handle, dladdr1's and dlinfo's struct link_map).
type DLObject struct{ h uint64 }

// maxDLDeps bounds the dependencies the table records per object (the
// loader's own lists are not bounded; the table's is informational).
const maxDLDeps = 256

var (
	dlAddMu sync.Mutex
	dlDesc  C.struct_rp_dl_desc // AddDLObject's argument, filled under dlAddMu (no allocation per call)
	dlDeps  [maxDLDeps]C.uint64_t
)

// AddDLObject enters d in the table: from now on _dl_find_object,
// dl_iterate_phdr, dladdr and the exit-handler functions bound to plugin
// imports (DLSymbols) see it. It returns the zero DLObject when C memory
// is exhausted.
func AddDLObject(d DLDesc) DLObject {
	dlAddMu.Lock()
	defer dlAddMu.Unlock()
	cd := &dlDesc
	*cd = C.struct_rp_dl_desc{}
	cd.base = C.uint64_t(d.Base)
	cd.lo, cd.hi = C.uint64_t(d.Lo), C.uint64_t(d.Hi)
	var p unsafe.Pointer
	if d.PhdrAddr != 0 {
		cd.phdr, cd.phnum, cd.phdr_image = C.uint64_t(d.PhdrAddr), C.uint64_t(d.PhdrNum), 1
	} else if len(d.Phdrs) > 0 {
		p = C.malloc(C.size_t(len(d.Phdrs)))
		if p == nil {
			return DLObject{}
		}
		copy(unsafe.Slice((*byte)(p), len(d.Phdrs)), d.Phdrs)
		cd.phdr = C.uint64_t(uintptr(p))
		cd.phnum = C.uint64_t(len(d.Phdrs) / 56)
	}
	cd.eh_frame = C.uint64_t(d.EHFrame)
	cd.dynamic = C.uint64_t(d.Dynamic)
	cd.symtab, cd.nsyms = C.uint64_t(d.Symtab), C.uint64_t(d.NSyms)
	cd.strtab, cd.strsz = C.uint64_t(d.Strtab), C.uint64_t(d.Strsz)
	cd.unwind_backtrace, cd.unwind_getip = C.uint64_t(d.UnwindBacktrace), C.uint64_t(d.UnwindGetIP)
	var deps [maxDLDeps]C.uint64_t
	for _, h := range d.Deps {
		if cd.ndeps < maxDLDeps {
			deps[cd.ndeps] = C.uint64_t(h)
			cd.ndeps++
		}
	}
	if cd.ndeps > 0 {
		dlDeps = deps
		cd.deps = C.uint64_t(uintptr(unsafe.Pointer(&dlDeps[0])))
	}
	// The path's bytes are passed in place (Go memory without pointers,
	// read during the call only): C copies them.
	var path *C.char
	if d.Path != "" {
		path = (*C.char)(unsafe.Pointer(unsafe.StringData(d.Path)))
	}
	h := C.rp_dl_add(cd, path, C.size_t(len(d.Path)))
	if h == 0 {
		C.free(p)
		return DLObject{}
	}
	return DLObject{h: uint64(h)}
}

// Handle returns the object's handle (the address of its struct
// link_map), 0 for the zero DLObject.
func (o DLObject) Handle() uintptr { return uintptr(o.h) }

// Remove takes the object out of the table, waiting for the C readers
// using it (a dl_iterate_phdr callback, a destructor run by
// __cxa_finalize or at thread exit); its __cxa_atexit handlers not yet
// run are dropped and its thread_local destructors will not run. Call it
// once, before the image is unmapped or made a tombstone; the zero
// DLObject's does nothing.
func (o DLObject) Remove() {
	if o.h != 0 {
		C.rp_dl_remove(C.uint64_t(o.h))
	}
}

// Deps returns the handles of the object's direct dependencies that are
// still in the table.
func (o DLObject) Deps() []uintptr {
	var buf [maxDLDeps]C.uint64_t
	n := int(C.rp_dl_deps(C.uint64_t(o.h), &buf[0], maxDLDeps))
	out := make([]uintptr, 0, n)
	for i := 0; i < n && i < maxDLDeps; i++ {
		out = append(out, uintptr(buf[i]))
	}
	return out
}

// AtexitPending returns how many __cxa_atexit handlers registered with
// the object's __dso_handle have not run yet.
func (o DLObject) AtexitPending() int { return int(C.rp_dl_atexit_pending(C.uint64_t(o.h))) }

// KeysPending returns how many pthread keys with a destructor in the
// object plugin code created and did not delete (removal deletes them).
func (o DLObject) KeysPending() int { return int(C.rp_dl_keys(C.uint64_t(o.h))) }

// DLHandleAt returns the handle of the live object whose segments
// contain addr, or 0.
func DLHandleAt(addr uintptr) uintptr { return uintptr(C.rp_dl_handle_at(C.uint64_t(addr))) }

// DLIsHandle reports whether h is the handle of a live object.
func DLIsHandle(h uintptr) bool { return C.rp_dl_is_handle(C.uint64_t(h)) != 0 }

// DLSetError sets the message the calling thread's next dlerror (the one
// DLSymbols binds) returns.
func DLSetError(msg string) {
	cs := C.CString(msg)
	defer C.free(unsafe.Pointer(cs))
	C.rp_dl_set_error(cs)
}

// DLThreadDtors returns how many thread_local destructors of runplug's
// objects are registered on the calling OS thread (lock it first).
func DLThreadDtors() int { return int(C.rp_dl_thread_dtors()) }

// DLCounts returns how many objects were added to and removed from the
// table so far.
func DLCounts() (adds, subs uint64) {
	var s C.uint64_t
	a := C.rp_dl_counts(&s)
	return uint64(a), uint64(s)
}

// DLSymbols returns the C implementations that imports of these names in
// runplug's objects bind to, whatever their version: they answer for the
// table's objects and hand everything else to glibc's. The first call sets
// the services up (call it before any plugin code runs: the loader does
// at initialisation).
func DLSymbols() map[string]uintptr {
	C.rp_dl_setup()
	return map[string]uintptr{
		"_dl_find_object":          uintptr(unsafe.Pointer(C.rp_dl_find_object)),
		"dl_iterate_phdr":          uintptr(unsafe.Pointer(C.rp_dl_iterate_phdr)),
		"dladdr":                   uintptr(unsafe.Pointer(C.rp_dl_addr)),
		"dladdr1":                  uintptr(unsafe.Pointer(C.rp_dl_addr1)),
		"dlinfo":                   uintptr(unsafe.Pointer(C.rp_dl_info)),
		"dlerror":                  uintptr(unsafe.Pointer(C.rp_dl_error)),
		"dlmopen":                  uintptr(unsafe.Pointer(C.rp_dl_mopen)),
		"__cxa_atexit":             uintptr(unsafe.Pointer(C.rp_dl_cxa_atexit)),
		"__cxa_finalize":           uintptr(unsafe.Pointer(C.rp_dl_cxa_finalize)),
		"__cxa_thread_atexit_impl": uintptr(unsafe.Pointer(C.rp_dl_cxa_thread_atexit_impl)),
		"pthread_key_create":       uintptr(unsafe.Pointer(C.rp_dl_pthread_key_create)),
		"pthread_key_delete":       uintptr(unsafe.Pointer(C.rp_dl_pthread_key_delete)),
		"backtrace":                uintptr(unsafe.Pointer(C.rp_dl_backtrace)),
		"backtrace_symbols":        uintptr(unsafe.Pointer(C.rp_dl_backtrace_symbols)),
		"backtrace_symbols_fd":     uintptr(unsafe.Pointer(C.rp_dl_backtrace_symbols_fd)),
	}
}

// DLBenchFind calls glibc's _dl_find_object (ours false) or runplug's n
// times on pc from C and returns how many found an object (-1: glibc has
// none).
func DLBenchFind(pc uintptr, n int, ours bool) int64 {
	o := C.int(0)
	if ours {
		o = 1
	}
	return int64(C.rp_dl_bench_find(C.uint64_t(pc), C.int64_t(n), o))
}

// ThreadID returns the calling OS thread's id (gettid).
func ThreadID() int64 { return int64(unix.Gettid()) }
