package loader

import (
	"debug/elf"
	"sync"

	"github.com/runplug/runplug/sandbox"
)

// Debuggers and profilers see runplug's objects (see the package doc,
// "Debugging and profiling"): each object is registered with the sandbox
// once it is mapped and relocated, before its constructors run (as ld.so
// announces a dlopen'd object before running its constructors, so a
// breakpoint in a constructor is hit), and unregistered when it is
// retired (a tombstone) or unmapped. The registrations are process-wide,
// like the debugger's and the runtime's view of the process.
var (
	debugMu   sync.Mutex
	debugRegs = map[*object]*sandbox.DebugObject{}
)

// debugAdd registers objs with debuggers and profilers.
func debugAdd(objs []*object) {
	for _, o := range objs {
		d := sandbox.AddDebugObject(o.debugInfo())
		debugMu.Lock()
		debugRegs[o] = d
		debugMu.Unlock()
	}
}

// debugRemove unregisters o; safe when it was never registered.
func (o *object) debugRemove() {
	debugMu.Lock()
	d := debugRegs[o]
	delete(debugRegs, o)
	debugMu.Unlock()
	d.Remove()
}

// debugInfo describes o for sandbox.AddDebugObject: its load bias,
// PT_DYNAMIC, executable range and function symbols.
func (o *object) debugInfo() *sandbox.DebugInfo {
	f := o.p.file
	info := &sandbox.DebugInfo{Path: o.path, Name: o.name, Base: uintptr(o.base)}
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
	for i := range f.Dynamic.Symbols {
		s := &f.Dynamic.Symbols[i]
		if s.Shndx == elf.SHN_UNDEF || s.Size == 0 || (s.Type != elf.STT_FUNC && s.Type != elf.STT_GNU_IFUNC) {
			continue
		}
		if !inSpans(o.p.exec, s.Value, 1) {
			continue
		}
		info.Symbols = append(info.Symbols, sandbox.DebugSymbol{Name: s.Name, Addr: uintptr(o.base + s.Value), Size: uintptr(s.Size)})
	}
	return info
}

// EnableProfiling installs runplug's cgo traceback and symbolizer for the
// whole process (sandbox.SetCgoTraceback without host functions), so that
// a Go CPU profile names the plugin functions a sample landed in, under
// the Go frames that called them. It is opt-in because the runtime accepts
// one cgo traceback per process: a host that installs its own passes it
// to sandbox.SetCgoTraceback instead, which chains to it. Calling it
// again does nothing. Plugins loaded before the call are covered.
func EnableProfiling() error {
	return sandbox.SetCgoTraceback(sandbox.CgoTracebackFuncs{})
}
