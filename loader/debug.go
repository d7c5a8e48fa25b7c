package loader

import (
	"debug/elf"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/debugreg"
	"github.com/runplug/runplug/internal/elfimage"
)

// Debuggers and profilers see runplug's objects (see the package doc,
// "Debugging and profiling"): each object is registered with the sandbox
// once it is mapped and relocated, before its constructors run (as ld.so
// announces a dlopen'd object before running its constructors, so a
// breakpoint in a constructor is hit), and unregistered when it is
// retired (a tombstone) or unmapped. The registrations are process-wide,
// like the debugger's and the runtime's view of the process.
var (
	debugMu   sync.Mutex // guards the three below
	debugRegs = map[*object]*debugreg.DebugObject{}
	// debugSyms keeps the function table of each parsed file, built at
	// its first load once profiling is on: the instances of a file share
	// it, and a reload costs one copy into C memory (libsqlite3 has 1370
	// functions).
	debugSyms = map[*parsed]*debugreg.SymbolTable{}
	// profiling is set by EnableProfiling: until then objects are
	// registered without their symbols, which nothing would read.
	profiling bool
)

// maxDebugSyms bounds debugSyms (an arbitrary entry goes when full).
const maxDebugSyms = 256

// debugAdd registers objs with debuggers and profilers.
func debugAdd(objs []*object) {
	for _, o := range objs {
		info := o.debugInfo()
		debugMu.Lock()
		if profiling {
			info.Symbols = o.symbolTable()
		}
		debugRegs[o] = debugreg.AddDebugObject(info)
		debugMu.Unlock()
	}
}

// debugRemove unregisters o; safe when it was never registered. It is
// called before o's image is parked or unmapped.
func (o *object) debugRemove() {
	debugMu.Lock()
	d := debugRegs[o]
	delete(debugRegs, o)
	debugMu.Unlock()
	if d == nil {
		return
	}
	d.Remove()
	o.dropDebuggerWrites()
}

// dropDebuggerWrites gives o's code pages back to its file when a
// debugger is watching: a debugger forgets the breakpoints it wrote into
// a library that disappears without taking them out (ld.so unmaps it), but
// runplug may park the image and reuse it for a later load of the same
// file, whose code would then hold stale int3s. MADV_DONTNEED drops the
// private copies the debugger's writes made, so the pages read the file
// again. The debugger has already handled the removal: r_brk traps
// synchronously.
func (o *object) dropDebuggerWrites() {
	if o.path == "" || o.mem == nil || !debugreg.DebuggerWatching() {
		return
	}
	plan := o.p.plan
	for _, r := range plan.Regions {
		if r.Kind != elfimage.RegionFile || r.Prot&unix.PROT_EXEC == 0 || r.Prot&unix.PROT_WRITE != 0 {
			continue
		}
		lo, hi := r.Start-int64(plan.MinVaddr), r.End-int64(plan.MinVaddr)
		if lo < 0 || hi > int64(len(o.mem)) || lo >= hi {
			continue
		}
		if err := unix.Madvise(o.mem[lo:hi], unix.MADV_DONTNEED); err != nil {
			o.l.log.Warn("dropping debugger breakpoints failed", "plugin", o.name, "error", err)
		}
	}
}

// debugInfo describes o for debugreg.AddDebugObject: its load bias,
// PT_DYNAMIC and executable range (debugAdd adds the symbols).
func (o *object) debugInfo() *debugreg.DebugInfo {
	f := o.p.file
	info := &debugreg.DebugInfo{Path: o.path, Name: o.name, Base: uintptr(o.base)}
	for _, ph := range f.Progs {
		if ph.Type == elf.PT_DYNAMIC {
			info.Dynamic = uintptr(o.base + ph.Vaddr)
		}
	}
	var lo, hi uint64
	for i, s := range o.p.exec {
		if i == 0 || s.lo < lo {
			lo = s.lo
		}
		if s.hi > hi {
			hi = s.hi
		}
	}
	if hi > lo {
		info.TextLo, info.TextHi = uintptr(o.base+lo), uintptr(o.base+hi)
	}
	return info
}

// symbolTable returns the functions of o's file, built once per parsed
// file: the defined STT_FUNC and STT_GNU_IFUNC symbols with a size inside
// an executable segment, from the dynamic symbol table (read in o's image)
// and, when the file has one, from .symtab (static functions; see
// fileFuncs). debugMu is held; o is mapped.
func (o *object) symbolTable() *debugreg.SymbolTable {
	p, path := o.p, o.path
	if t := debugSyms[p]; t != nil {
		return t
	}
	seen := map[uint64]bool{}
	var syms []debugreg.DebugSymbol
	add := func(name string, value, size uint64, typ elf.SymType, undef bool) {
		if undef || size == 0 || name == "" || (typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC) {
			return
		}
		if seen[value] || !inSpans(p.exec, value, 1) {
			return
		}
		seen[value] = true
		syms = append(syms, debugreg.DebugSymbol{Name: name, Addr: uintptr(value), Size: uintptr(size)})
	}
	for i := 1; i < o.syms.Len(); i++ {
		value, size, typ, defined := o.syms.Value(i)
		if !defined || size == 0 || (typ != elf.STT_FUNC && typ != elf.STT_GNU_IFUNC) {
			continue
		}
		if name, err := o.syms.Name(i); err == nil {
			add(name, value, size, typ, false)
		}
	}
	for _, s := range fileFuncs(path) {
		add(s.Name, s.Value, s.Size, elf.ST_TYPE(s.Info), s.Section == elf.SHN_UNDEF)
	}
	t := debugreg.NewSymbolTable(syms)
	if len(debugSyms) >= maxDebugSyms {
		for k := range debugSyms {
			delete(debugSyms, k)
			break
		}
	}
	debugSyms[p] = t
	return t
}

// maxSymtabSize bounds the .symtab read for profiles.
const maxSymtabSize = 64 << 20

// fileFuncs returns the .symtab of the file at path (nil when it has none,
// is too large or cannot be read). debug/elf is not hardened against
// hostile files: its panics are recovered here, and the section's size is
// checked before it is read.
func fileFuncs(path string) (syms []elf.Symbol) {
	if path == "" {
		return nil
	}
	defer func() {
		if recover() != nil {
			syms = nil
		}
	}()
	f, err := elf.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	sec := f.Section(".symtab")
	if sec == nil || sec.Type != elf.SHT_SYMTAB || sec.Size > maxSymtabSize {
		return nil
	}
	syms, err = f.Symbols()
	if err != nil {
		return nil
	}
	return syms
}

// EnableProfiling installs runplug's cgo traceback and symbolizer for the
// whole process (debugreg.SetCgoTraceback without host functions) and
// starts keeping the plugins' function names for it, so that
// a Go CPU profile names the plugin functions a sample landed in, under
// the Go frames that called them. It is opt-in because the runtime accepts
// one cgo traceback per process: a host that installs its own passes it
// to debugreg.SetCgoTraceback instead, which chains to it. Calling it
// again does nothing. Plugins loaded before the call are covered.
func EnableProfiling() error {
	if err := debugreg.SetCgoTraceback(debugreg.CgoTracebackFuncs{}); err != nil {
		return err
	}
	debugMu.Lock()
	defer debugMu.Unlock()
	if !profiling {
		profiling = true
		for o, d := range debugRegs {
			d.SetSymbols(o.symbolTable())
		}
	}
	return nil
}
