//go:build linux && (amd64 || arm64)

package debugreg

// The cgo half of debugger and profiler registration: debugreg.c keeps
// runplug's objects on a link_map list of its own, chained to glibc's
// r_debug, for gdb; traceback.c keeps their executable ranges and function
// symbols for the Go runtime's cgo traceback and symbolizer
// (traceback_cgo.go installs them).

/*
#cgo CFLAGS: -O2 -Wall -fno-omit-frame-pointer -I${SRCDIR}/../pcall
#include <stdlib.h>
#include "debugreg.h"
*/
import "C"

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"unsafe"

	"github.com/runplug/runplug/internal/errs"

	// The protected-call core's C: rp_self and the lock bookkeeping
	// (locks.h) that this package's C uses.
	_ "github.com/runplug/runplug/internal/pcall"
)

// SymbolTable is the functions of an object file in the form the cgo
// symbolizer reads, sorted by address relative to the load bias: built
// once per file (NewSymbolTable), copied into C memory for each object
// registered with it.
type SymbolTable struct {
	syms []C.struct_rp_psym
	strs []byte
}

// NewSymbolTable builds a SymbolTable from syms, whose Addr are relative
// to the load bias. Symbols without a name or a size are left out.
func NewSymbolTable(syms []DebugSymbol) *SymbolTable {
	t := &SymbolTable{syms: make([]C.struct_rp_psym, 0, len(syms))}
	n := 0
	for _, s := range syms {
		n += len(s.Name) + 1
	}
	t.strs = make([]byte, 0, n)
	for _, s := range syms {
		if s.Size == 0 || s.Name == "" {
			continue
		}
		t.syms = append(t.syms, C.struct_rp_psym{lo: C.uint64_t(s.Addr), size: C.uint64_t(s.Size), name: C.uint64_t(len(t.strs))})
		t.strs = append(t.strs, s.Name...)
		t.strs = append(t.strs, 0)
	}
	slices.SortFunc(t.syms, func(a, b C.struct_rp_psym) int { return cmp.Compare(a.lo, b.lo) })
	return t
}

// Len returns the number of functions in t.
func (t *SymbolTable) Len() int { return len(t.syms) }

// DebugObject is a registration made by AddDebugObject.
type DebugObject struct {
	mu      sync.Mutex
	removed bool
	lm      unsafe.Pointer // struct rp_lm, nil when debuggers do not see it
	prof    unsafe.Pointer // struct rp_pobj, nil when profiles do not
	info    DebugInfo      // for SetSymbols (Symbols not kept)
}

// AddDebugObject shows the object info describes to debuggers (on the
// link_map list runplug chains to glibc's r_debug; see debugreg.c) and to
// the cgo traceback and symbolizer (see SetCgoTraceback). Call it once the
// object is mapped, before its code runs. What it cannot register (no
// memory, a glibc older than 2.35 for debuggers) is left out silently: see
// DebuggerError.
func AddDebugObject(info *DebugInfo) *DebugObject {
	d := &DebugObject{info: *info}
	d.info.Symbols = nil
	if info.Path != "" {
		cpath := C.CString(info.Path)
		d.lm = C.rp_dbg_add(C.uint64_t(info.Base), cpath, C.uint64_t(info.Dynamic))
		C.free(unsafe.Pointer(cpath))
	}
	if info.TextHi <= info.TextLo {
		return d
	}
	// The traceback's table is filled only once a cgo traceback is
	// installed (SetCgoTraceback adds the objects registered before): a
	// host that never profiles pays no second registration per load.
	profMu.Lock()
	profLiveObjs[d] = info.Symbols
	on := profOn
	profMu.Unlock()
	if on {
		d.mu.Lock()
		if d.prof == nil && !d.removed {
			d.prof = addProfObject(info)
		}
		d.mu.Unlock()
	}
	return d
}

var (
	profMu       sync.Mutex
	profOn       bool                              // a cgo traceback is installed
	profLiveObjs = map[*DebugObject]*SymbolTable{} // registered and not removed, with their symbols
)

// profAddRegistered gives the traceback's table the objects registered
// before it was installed; called once, by SetCgoTraceback.
func profAddRegistered() {
	profMu.Lock()
	defer profMu.Unlock()
	profOn = true
	for d, syms := range profLiveObjs {
		d.mu.Lock()
		if d.prof == nil && !d.removed {
			info := d.info
			info.Symbols = syms
			d.prof = addProfObject(&info)
		}
		d.mu.Unlock()
	}
}

// SetSymbols gives profiles t as the object's functions from now on (a
// host turned profiling on after the object was loaded). It does nothing
// after Remove.
func (d *DebugObject) SetSymbols(t *SymbolTable) {
	profMu.Lock() // before d.mu, as in profAddRegistered
	if _, ok := profLiveObjs[d]; ok {
		profLiveObjs[d] = t
	}
	profMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removed || d.info.TextHi <= d.info.TextLo {
		return
	}
	info := d.info
	info.Symbols = t
	// The new entry takes the old one's range, which drops it.
	if p := addProfObject(&info); p != nil {
		d.prof = p
	}
}

// addProfObject copies info's symbols into the traceback's table.
func addProfObject(info *DebugInfo) unsafe.Pointer {
	name := info.Path
	if name == "" {
		name = info.Name
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var psyms *C.struct_rp_psym
	var pstrs *C.char
	var nsyms, nstrs int
	if t := info.Symbols; t != nil && len(t.syms) > 0 {
		psyms, nsyms = &t.syms[0], len(t.syms)
		pstrs, nstrs = (*C.char)(unsafe.Pointer(&t.strs[0])), len(t.strs)
	}
	return C.rp_prof_add(C.uint64_t(info.TextLo), C.uint64_t(info.TextHi), C.uint64_t(info.Base), cname, psyms, C.uint64_t(nsyms), pstrs, C.uint64_t(nstrs))
}

// Remove takes the object off the debuggers' list and marks it closed for
// profiles (its names stay known for samples taken before, until its
// address range is reused). Safe to call twice.
func (d *DebugObject) Remove() {
	if d == nil {
		return
	}
	profMu.Lock() // before d.mu, as in profAddRegistered
	delete(profLiveObjs, d)
	profMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removed {
		return
	}
	d.removed = true
	if d.lm != nil {
		C.rp_dbg_remove(d.lm)
	}
	if d.prof != nil {
		C.rp_prof_kill(d.prof)
	}
}

// DebuggerError says why debuggers cannot see runplug's objects in this
// process (nil when they can): the r_debug chain needs glibc 2.35 or later.
func DebuggerError() error {
	switch rc := C.rp_dbg_init(); rc {
	case 0:
		return nil
	case C.int(syscall.ENOSYS):
		return fmt.Errorf("sandbox: debugger registration needs glibc 2.35 or later (r_debug_extended): %w", errs.ErrUnsupported)
	default:
		return fmt.Errorf("sandbox: debugger registration: no r_debug found: %w", syscall.Errno(rc))
	}
}

// DebuggerWatching reports whether a debugger has its breakpoint on
// glibc's r_brk (an int3 there), i.e. follows library events, and so may
// have written breakpoints into the code of runplug's objects.
func DebuggerWatching() bool { return C.rp_dbg_watched() != 0 }

// debugNamespace returns the address of runplug's r_debug node (tests).
func debugNamespace() uintptr { return uintptr(C.rp_dbg_namespace()) }

// profLive returns how many live objects the traceback's table holds (tests).
func profLive() int { return int(C.rp_prof_live()) }

// debugBase returns the address of the r_debug debuggers read (tests).
func debugBase() uintptr { return uintptr(C.rp_dbg_base()) }

// profTraceback runs the cgo traceback on a signal context holding pc, sp
// and fp, with room for max PCs (tests), outside a protected call.
func profTraceback(pc, sp, fp uintptr, max int) []uintptr {
	return profTracebackIn(pc, sp, fp, 0, 0, max)
}

// profTracebackIn is profTraceback inside a protected call whose frame is
// at top, with lr in AArch64's link register (tests).
func profTracebackIn(pc, sp, fp, lr, top uintptr, max int) []uintptr {
	buf := (*[64]C.uintptr_t)(C.calloc(64, 8))
	defer C.free(unsafe.Pointer(buf))
	C.rp_prof_test_traceback(C.uint64_t(pc), C.uint64_t(sp), C.uint64_t(fp), C.uint64_t(lr), C.uint64_t(top), &buf[0], C.uintptr_t(max))
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

// testDlmopen opens name with dlmopen(LM_ID_NEWLM) and returns a function
// that closes it, or nil when it failed (tests).
func testDlmopen(name string) func() {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	h := C.rp_dbg_test_dlmopen(cname)
	if h == nil {
		return nil
	}
	return func() { C.rp_dbg_test_dlclose(h) }
}
