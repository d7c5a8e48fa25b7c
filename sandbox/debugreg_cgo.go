//go:build linux && amd64

package sandbox

// The cgo half of debugger and profiler registration: debugreg.c keeps
// runplug's objects on a link_map list of its own, chained to glibc's
// r_debug, for gdb; traceback.c keeps their executable ranges and function
// symbols for the Go runtime's cgo traceback and symbolizer
// (traceback_cgo.go installs them).

/*
#include <stdlib.h>
#include "debugreg.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"syscall"
	"unsafe"
)

// DebugSymbol is one function of an object, at an absolute address.
type DebugSymbol struct {
	Name string
	Addr uintptr
	Size uintptr
}

// DebugInfo describes a mapped object to debuggers and profilers.
type DebugInfo struct {
	// Path is the object's file, from which a debugger reads its symbols
	// and DWARF. An object without one (loaded from memory) is not shown
	// to debuggers; profiles name it after Name.
	Path string
	Name string
	// Base is the load bias (the link_map's l_addr): address minus
	// virtual address in the file.
	Base uintptr
	// Dynamic is the address of its PT_DYNAMIC (l_ld), 0 when unknown.
	Dynamic uintptr
	// TextLo and TextHi bound its executable segments.
	TextLo, TextHi uintptr
	// Symbols are its functions (any order), for profiles.
	Symbols []DebugSymbol
}

// DebugObject is a registration made by AddDebugObject.
type DebugObject struct {
	once sync.Once
	lm   unsafe.Pointer // struct rp_lm, nil when debuggers do not see it
	prof unsafe.Pointer // struct rp_pobj, nil when profiles do not
}

// AddDebugObject shows the object info describes to debuggers (on the
// link_map list runplug chains to glibc's r_debug; see debugreg.c) and to
// the cgo traceback and symbolizer (see SetCgoTraceback). Call it once the
// object is mapped, before its code runs. What it cannot register (no
// memory, a glibc older than 2.35 for debuggers) is left out silently: see
// DebuggerError.
func AddDebugObject(info *DebugInfo) *DebugObject {
	d := &DebugObject{}
	if info.Path != "" {
		cpath := C.CString(info.Path)
		d.lm = C.rp_dbg_add(C.uint64_t(info.Base), cpath, C.uint64_t(info.Dynamic))
		C.free(unsafe.Pointer(cpath))
	}
	if info.TextHi > info.TextLo {
		d.prof = addProfObject(info)
	}
	return d
}

// addProfObject copies info's symbols into the traceback's table.
func addProfObject(info *DebugInfo) unsafe.Pointer {
	syms := make([]C.struct_rp_psym, 0, len(info.Symbols))
	var strs []byte
	for _, s := range info.Symbols {
		if s.Size == 0 || s.Name == "" {
			continue
		}
		syms = append(syms, C.struct_rp_psym{lo: C.uint64_t(s.Addr), size: C.uint64_t(s.Size), name: C.uint64_t(len(strs))})
		strs = append(strs, s.Name...)
		strs = append(strs, 0)
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].lo < syms[j].lo })
	name := info.Path
	if name == "" {
		name = info.Name
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var psyms *C.struct_rp_psym
	if len(syms) > 0 {
		psyms = &syms[0]
	}
	var pstrs *C.char
	if len(strs) > 0 {
		pstrs = (*C.char)(unsafe.Pointer(&strs[0]))
	}
	return C.rp_prof_add(C.uint64_t(info.TextLo), C.uint64_t(info.TextHi), cname, psyms, C.uint64_t(len(syms)), pstrs, C.uint64_t(len(strs)))
}

// Remove takes the object off the debuggers' list and marks it closed for
// profiles (its names stay known for samples taken before, until its
// address range is reused). Safe to call twice.
func (d *DebugObject) Remove() {
	if d == nil {
		return
	}
	d.once.Do(func() {
		if d.lm != nil {
			C.rp_dbg_remove(d.lm)
		}
		if d.prof != nil {
			C.rp_prof_kill(d.prof)
		}
	})
}

// DebuggerError says why debuggers cannot see runplug's objects in this
// process (nil when they can): the r_debug chain needs glibc 2.35 or later.
func DebuggerError() error {
	switch rc := C.rp_dbg_init(); rc {
	case 0:
		return nil
	case C.int(syscall.ENOSYS):
		return fmt.Errorf("sandbox: debugger registration needs glibc 2.35 or later (r_debug_extended): %w", errors.ErrUnsupported)
	default:
		return fmt.Errorf("sandbox: debugger registration: no r_debug found: %w", syscall.Errno(rc))
	}
}

// debugNamespace returns the address of runplug's r_debug node (tests).
func debugNamespace() uintptr { return uintptr(C.rp_dbg_namespace()) }

// profLive returns how many live objects the traceback's table holds (tests).
func profLive() int { return int(C.rp_prof_live()) }

// debugBase returns the address of the r_debug debuggers read (tests).
func debugBase() uintptr { return uintptr(C.rp_dbg_base()) }

// profTraceback runs the cgo traceback on a signal context holding pc, sp
// and fp, with room for max PCs (tests).
func profTraceback(pc, sp, fp uintptr, max int) []uintptr {
	buf := (*[64]C.uintptr_t)(C.calloc(64, 8))
	defer C.free(unsafe.Pointer(buf))
	C.rp_prof_test_traceback(C.uint64_t(pc), C.uint64_t(sp), C.uint64_t(fp), &buf[0], C.uintptr_t(max))
	var out []uintptr
	for i := 0; i < max && buf[i] != 0; i++ {
		out = append(out, uintptr(buf[i]))
	}
	return out
}

// profSymbolize runs the cgo symbolizer on pc as the runtime does, then
// its closing call (tests).
func profSymbolize(pc uintptr) (fn, file string, entry uintptr) {
	a := (*C.struct_rp_sym_arg)(C.calloc(1, C.sizeof_struct_rp_sym_arg))
	defer C.free(unsafe.Pointer(a))
	a.pc = C.uintptr_t(pc)
	C.rp_cgo_symbolizer(unsafe.Pointer(a))
	if a._func != nil {
		fn = C.GoString(a._func)
	}
	if a.file != nil {
		file = C.GoString(a.file)
	}
	entry = uintptr(a.entry)
	a.pc = 0
	C.rp_cgo_symbolizer(unsafe.Pointer(a))
	return fn, file, entry
}

// testHostFuncs returns a host's cgo traceback functions that count their
// calls (tests), and the count so far.
func testHostFuncs() (CgoTracebackFuncs, func() int) {
	return CgoTracebackFuncs{
			Traceback:  unsafe.Pointer(C.rp_prof_test_host_traceback),
			Symbolizer: unsafe.Pointer(C.rp_prof_test_host_symbolizer),
		}, func() int {
			return int(C.rp_prof_test_host_calls())
		}
}

// setProfHost sets the functions the traceback and symbolizer chain to,
// without the runtime (tests).
func setProfHost(h CgoTracebackFuncs) { C.rp_prof_set_host(h.Traceback, h.Symbolizer) }
