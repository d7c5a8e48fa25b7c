package loader

import (
	"debug/elf"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// The dynamic-linker services runplug serves to the objects it loads.
//
// glibc's ld.so knows nothing of runplug's objects: its _dl_find_object,
// dl_iterate_phdr and dladdr do not find them (so no unwinder finds their
// unwind tables, and a C++ throw ends in std::terminate), and its dlopen
// would load a second, unrelated copy of a library. So imports of these
// names in runplug's objects bind to runplug's own (see dlImport): C
// functions of the sandbox that read its table of runplug's objects and
// hand everything else to glibc, and, for dlopen, dlsym, dlvsym and
// dlclose, Go functions (through sandbox callbacks, one per object that
// imports one, so that each knows its caller) that load through the same
// Loader. Each object enters the table once it is relocated (link) and
// leaves it before its image is unmapped or made a tombstone (dlRetire).
// libstdc++ and libgcc_s are not host libraries: runplug loads its own
// copies, so their imports (libgcc_s's _dl_find_object above all) get
// these services too.

// dlServices returns the C implementations (dlsvc.DLSymbols), by import
// name. The first call sets the services up (their thread key, glibc's
// _dl_find_object): link makes it before an object's relocation, so a
// process that never loads a plugin pays nothing for them at start, and
// their key is still created before any plugin code (an IFUNC resolver,
// a constructor) can create the TLS runtime's.
var dlServices = sync.OnceValue(dlsvc.DLSymbols)

// dlGoFunc returns the Go implementation of the import name for o and
// its slot in object.dlCallbacks, nil when it is not one that Go serves.
func dlGoFunc(l *Loader, o *object, name string) (wire.RawHostFunc, int) {
	switch name {
	case "dlopen":
		return dlopenFunc(l, o), 0
	case "dlsym":
		return dlsymFunc(false)(l, o), 1
	case "dlvsym":
		return dlsymFunc(true)(l, o), 2
	case "dlclose":
		return dlcloseFunc(l, o), 3
	}
	return nil, -1
}

// dlGoServed is how many imports Go serves (dlGoFunc's slots).
const dlGoServed = 4

// dlState is a Loader's share of the services: the callbacks bound to its
// objects' imports and the handles plugin code opened.
type dlState struct {
	mu      sync.Mutex
	handles map[uintptr]*dlHandle // by handle, runplug objects only
	global  []*object             // opened with RTLD_GLOBAL, in that order
	holds   map[*object][]*object // global objects an object's imports bound to (dlHold)
	// lockTID is the thread running plugin code (constructors,
	// destructors) while l.mu is held, 0 when none: dlopen and dlclose
	// from that code cannot take l.mu (see dlopen, dlclose).
	lockTID atomic.Int64
	// served is set once an object imports a dynamic-linker function
	// served in Go (dlopen, dlclose, ...): only then can plugin code reach
	// underLock, so only then must enter mark the thread (a load of a
	// plugin that imports none pays no gettid and no thread lock).
	served atomic.Bool
}

// dlHandle is a runplug object plugin code holds through dlopen.
type dlHandle struct {
	obj    *object
	opens  map[*object]int // dlopen calls not yet closed, by the object that made them
	global bool            // opened with RTLD_GLOBAL: in dlState.global
}

// forget drops handle h (x) once every dlopen of it was closed. d.mu is held.
func (d *dlState) forget(h uintptr, x *dlHandle) {
	delete(d.handles, h)
	if x.global {
		for i, g := range d.global {
			if g == x.obj {
				d.global = append(d.global[:i:i], d.global[i+1:]...)
				break
			}
		}
	}
}

// dlImport returns what an import of name by o binds to when it is one
// of the dynamic-linker services.
func (l *Loader) dlImport(o *object, name string) (uintptr, bool) {
	if a, ok := dlServices()[name]; ok {
		return a, true
	}
	fn, slot := dlGoFunc(l, o, name)
	if fn == nil {
		return 0, false
	}
	d := &l.dl
	d.mu.Lock()
	defer d.mu.Unlock()
	if cb := o.dlCallbacks[slot]; cb != nil {
		return cb.Addr(), true
	}
	cb, err := pcall.NewCallback(name, fn)
	if err != nil {
		l.log.Warn("dynamic-linker service unavailable", "plugin", o.name, "symbol", name, "error", err)
		return 0, false
	}
	o.dlCallbacks[slot] = cb
	d.served.Store(true)
	return cb.Addr(), true
}

// enter marks the calling thread as running plugin code while l.mu is
// held (and locks the goroutine to it), until leave(enter()) (defer it).
func (d *dlState) enter() int64 {
	if !d.served.Load() {
		return -1
	}
	runtime.LockOSThread()
	return d.lockTID.Swap(dlsvc.ThreadID())
}

// leave ends what enter began, restoring prev.
func (d *dlState) leave(prev int64) {
	if prev < 0 {
		return // enter marked nothing
	}
	d.lockTID.Store(prev)
	runtime.UnlockOSThread()
}

// underLock reports whether the calling thread runs plugin code for a
// Loader operation that holds l.mu.
func (d *dlState) underLock() bool {
	t := d.lockTID.Load()
	return t != 0 && t == dlsvc.ThreadID()
}

// dlRegister enters o in the sandbox's object table: from now on
// unwinders, dladdr and dl_iterate_phdr see it. l.mu is held.
func (l *Loader) dlRegister(o *object) {
	if o.dl.Handle() != 0 {
		return
	}
	f := o.p.file
	d := dlsvc.DLDesc{
		Base: uintptr(o.base),
		Lo:   uintptr(o.base + o.p.plan.MinVaddr),
		Hi:   uintptr(o.base + o.p.plan.MaxVaddr),
		Path: o.path,
	}
	if d.Path == "" {
		d.Path = o.name
	}
	for i := range f.Progs {
		p := &f.Progs[i]
		switch {
		case p.Type == elf.PT_GNU_EH_FRAME && inSpans(o.p.readable, p.Vaddr, max(p.Memsz, 1)):
			d.EHFrame = uintptr(o.base + p.Vaddr)
		case p.Type == elf.PT_DYNAMIC && inSpans(o.p.readable, p.Vaddr, max(p.Memsz, 1)):
			d.Dynamic = uintptr(o.base + p.Vaddr)
			o.dynTables(*p, &d)
		}
	}
	// The image's own program headers (as glibc's l_phdr), else a copy.
	if a, ok := o.imagePhdrs(); ok {
		d.PhdrAddr, d.PhdrNum = a, uint64(len(f.Progs))
	} else {
		ph := make([]byte, 0, 56*len(f.Progs))
		for _, p := range f.Progs {
			ph = binary.LittleEndian.AppendUint32(ph, uint32(p.Type))
			ph = binary.LittleEndian.AppendUint32(ph, uint32(p.Flags))
			for _, v := range [...]uint64{p.Off, p.Vaddr, p.Vaddr, p.Filesz, p.Memsz, p.Align} {
				ph = binary.LittleEndian.AppendUint64(ph, v)
			}
		}
		d.Phdrs = ph
	}
	for _, dep := range o.deps {
		if h := dep.dl.Handle(); h != 0 { // 0: later in a cycle
			d.Deps = append(d.Deps, h)
		}
	}
	d.UnwindBacktrace = o.scopeFunc("_Unwind_Backtrace")
	d.UnwindGetIP = o.scopeFunc("_Unwind_GetIP")
	o.dl = dlsvc.AddDLObject(d)
	if o.dl.Handle() == 0 {
		l.log.Warn("object table full: unwinding and dladdr will not see this object", "plugin", o.name)
	}
}

// imagePhdrs returns the address of o's program headers in its image:
// where the ELF header, mapped by a read-only PT_LOAD of file offset 0,
// says they are (e_phoff), when they lie in that segment and read back
// exactly as parsed (nothing wrote them since).
func (o *object) imagePhdrs() (uintptr, bool) {
	f := o.p.file
	if len(f.Loads) == 0 || len(f.Progs) == 0 {
		return 0, false
	}
	ld := f.Loads[0]
	if ld.Off != 0 || ld.Flags&elf.PF_W != 0 || ld.Vaddr < o.p.plan.MinVaddr || ld.Filesz < 64 {
		return 0, false
	}
	start := ld.Vaddr - o.p.plan.MinVaddr
	mem := uint64(len(o.mem))
	if start+64 > mem {
		return 0, false
	}
	le := binary.LittleEndian
	phoff := le.Uint64(o.mem[start+32:])
	n := uint64(len(f.Progs))
	if le.Uint16(o.mem[start+54:]) != 56 || uint64(le.Uint16(o.mem[start+56:])) != n ||
		phoff > ld.Filesz || 56*n > ld.Filesz-phoff || start+phoff+56*n > mem {
		return 0, false
	}
	b := o.mem[start+phoff : start+phoff+56*n]
	for i, p := range f.Progs {
		e := b[56*i:]
		if elf.ProgType(le.Uint32(e)) != p.Type || elf.ProgFlag(le.Uint32(e[4:])) != p.Flags ||
			le.Uint64(e[8:]) != p.Off || le.Uint64(e[16:]) != p.Vaddr || le.Uint64(e[32:]) != p.Filesz ||
			le.Uint64(e[40:]) != p.Memsz || le.Uint64(e[48:]) != p.Align {
			return 0, false
		}
	}
	return uintptr(o.base + ld.Vaddr + phoff), true
}

// scopeFunc returns the address of the plain (not IFUNC) function name
// in o's lookup scope, or 0.
func (o *object) scopeFunc(name string) uintptr {
	h := newNameHash(name)
	for _, d := range o.scope {
		if i, ok := h.lookup(d.syms, ""); ok {
			s, err := d.def(i)
			if err != nil {
				return 0
			}
			if s.Type != elf.STT_FUNC || !inSpans(d.p.exec, s.Value, 1) {
				return 0
			}
			return uintptr(d.base + s.Value)
		}
	}
	return 0
}

// dynTables finds DT_SYMTAB, DT_STRTAB and DT_STRSZ in o's mapped dynamic
// segment, for dladdr, keeping them only when the tables lie inside
// readable segments.
func (o *object) dynTables(p elfimage.Prog, d *dlsvc.DLDesc) {
	mem := uint64(len(o.mem))
	off := p.Vaddr - o.p.plan.MinVaddr
	if p.Vaddr < o.p.plan.MinVaddr || off >= mem {
		return
	}
	end := min(off+p.Memsz, mem)
	var symtab, strtab, strsz uint64
	var have int
loop:
	for i := off; i+16 <= end; i += 16 {
		v := binary.LittleEndian.Uint64(o.mem[i+8:])
		switch elf.DynTag(binary.LittleEndian.Uint64(o.mem[i:])) {
		case elf.DT_NULL:
			break loop
		case elf.DT_SYMTAB:
			symtab, have = v, have|1
		case elf.DT_STRTAB:
			strtab, have = v, have|2
		case elf.DT_STRSZ:
			strsz, have = v, have|4
		}
	}
	n := uint64(o.syms.Len())
	if have != 7 || !inSpans(o.p.readable, symtab, n*24) || !inSpans(o.p.readable, strtab, strsz) {
		return
	}
	d.Symtab, d.NSyms = uintptr(o.base+symtab), n
	d.Strtab, d.Strsz = uintptr(o.base+strtab), strsz
}

// dlRetire takes o out of the table before its image is unmapped or made
// a tombstone, frees its callbacks and releases what its code opened and
// did not close. Safe to call twice. l.mu is held.
func (l *Loader) dlRetire(o *object) {
	o.dl.Remove()
	o.dl = dlsvc.DLObject{}
	d := &l.dl
	d.mu.Lock()
	cbs := o.dlCallbacks
	o.dlCallbacks = [dlGoServed]*pcall.Callback{}
	var release [][]*object
	for _, g := range d.holds[o] {
		release = append(release, g.scope)
	}
	delete(d.holds, o)
	for h, x := range d.handles {
		if n := x.opens[o]; n > 0 {
			delete(x.opens, o)
			for ; n > 0; n-- {
				release = append(release, x.obj.scope)
			}
			if len(x.opens) == 0 {
				d.forget(h, x)
			}
		}
	}
	d.mu.Unlock()
	for _, cb := range cbs {
		if cb != nil {
			cb.Free()
		}
	}
	for _, scope := range release {
		if err := l.release(scope); err != nil {
			l.log.Warn("closing what a plugin opened failed", "plugin", o.name, "error", err)
		}
	}
}
