package loader

import (
	"debug/elf"
	"fmt"
	"sync"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/tlsrt"
)

// tlsGetAddr is the import that general- and local-dynamic TLS code calls:
// it always binds to runplug's (tlsrt.TLSGetAddr), whatever its version,
// since glibc's knows nothing of runplug's modules.
const tlsGetAddr = "__tls_get_addr"

// resolve returns the value of symbol index sym of o for a relocation:
// its own definition when o defines it, else (in order) runplug's
// dynamic-linker services (dltable.go), the Loader's host symbols, o's
// lookup scope (itself, then its dependencies breadth-first), the objects
// plugin code opened with RTLD_GLOBAL (dlopen.go), the host C libraries;
// 0 for a weak import nothing provides. A thread-local symbol resolves to
// its offset and module (see resolveTLS).
func (l *Loader) resolve(o *object, idx uint32) (symValue, error) {
	// A plain definition of o's own binds by value: its name (a string
	// to decode and copy) is needed only to look an import up, or for
	// the errors of a thread-local or IFUNC definition. A C++ library's
	// relocations name mostly its own definitions (vtables, typeinfo).
	if def, err := o.def(int(idx)); err == nil && def.Shndx != elf.SHN_UNDEF &&
		def.Type != elf.STT_TLS && def.Type != elf.STT_GNU_IFUNC {
		if def.Shndx == elf.SHN_ABS {
			return symValue{addr: def.Value, own: true}, nil
		}
		return symValue{addr: o.base + def.Value, own: true}, nil
	}
	sym, err := o.importSymbol(idx)
	if err != nil {
		return symValue{}, err
	}
	s := &sym
	if s.Shndx != elf.SHN_UNDEF {
		if s.Type == elf.STT_TLS {
			return o.tlsDefinition(s)
		}
		if s.Shndx == elf.SHN_ABS {
			return symValue{addr: s.Value}, nil
		}
		return o.definition(s)
	}
	if s.Type == elf.STT_TLS {
		return l.resolveTLS(o, s)
	}
	if s.Name == tlsGetAddr {
		return symValue{addr: uint64(tlsrt.TLSGetAddr())}, nil
	}
	if a, ok := l.dlImport(o, s.Name); ok { // dltable.go
		return symValue{addr: uint64(a)}, nil
	}
	if a, ok := l.hostSymbol(s.Name); ok {
		return symValue{addr: uint64(a)}, nil
	}
	if a, ok := l.host.bind(o, s.Name); ok { // RegisterHostFunc
		return symValue{addr: uint64(a)}, nil
	}
	if d, i, ok := scopeLookup(o, s); ok {
		def, err := d.def(i)
		if err != nil {
			return symValue{}, err
		}
		def.Name = s.Name
		if def.Type == elf.STT_TLS {
			// An import not typed STT_TLS: the relocation decides
			// (one that wants an address refuses it).
			return d.tlsDefinition(&def)
		}
		if d == o {
			return o.definition(&def)
		}
		if def.Shndx == elf.SHN_ABS {
			return symValue{addr: def.Value}, nil
		}
		a, err := d.symbolAddr(i)
		if err != nil {
			return symValue{}, fmt.Errorf("%s: symbol %q: %w", o.name, s.Name, err)
		}
		return symValue{addr: uint64(a)}, nil
	}
	if a, g, err := l.dlGlobal(o, s.Name, s.Version); err != nil { // RTLD_GLOBAL objects (dlopen.go)
		return symValue{}, fmt.Errorf("%s: %w", o.name, err)
	} else if g != nil {
		l.dlHold(o, g)
		return symValue{addr: uint64(a)}, nil
	}
	if !l.opts.NoHostC && (l.allowC == nil || l.allowC[s.Name]) {
		if a, ok := hostLookup(s.Name, s.Version); ok {
			return symValue{addr: uint64(a)}, nil
		}
		if a, ok := hostScopeLookup(o, s.Name, s.Version); ok {
			return symValue{addr: uint64(a)}, nil
		}
	}
	if s.Bind == elf.STB_WEAK {
		return symValue{}, nil
	}
	return symValue{}, &UndefinedSymbolError{Object: o.name, Symbol: s.Name, Version: s.Version}
}

// scopeLookup finds the definition of import s in o's lookup scope: the
// first object that defines its name at its version, and the index there.
func scopeLookup(o *object, s *elfimage.Symbol) (*object, int, bool) {
	h := newNameHash(s.Name)
	for _, d := range o.scope {
		if i, ok := h.lookup(d.syms, s.Version); ok {
			return d, i, true
		}
	}
	return nil, 0, false
}

// resolveTLS resolves an STT_TLS import of o: only an object runplug
// loaded (one with a TLS module) can define it. The host C library's
// thread-local variables (errno is one, behind a function) live in glibc's
// TLS, which runplug's modules are not part of.
func (l *Loader) resolveTLS(o *object, s *elfimage.Symbol) (symValue, error) {
	if d, i, ok := scopeLookup(o, s); ok {
		def, err := d.def(i)
		if err != nil {
			return symValue{}, err
		}
		def.Name = s.Name
		if def.Type != elf.STT_TLS {
			return symValue{}, fmt.Errorf("%s: thread-local symbol %q: %s defines it as %v, not thread-local: %w", o.name, s.Name, d.name, def.Type, elfimage.ErrMalformed)
		}
		return d.tlsDefinition(&def)
	}
	if _, ok := hostLookup(s.Name, s.Version); ok {
		return symValue{}, fmt.Errorf("%s: thread-local symbol %q is defined only by the host C library, whose thread-local storage runplug cannot address: %w", o.name, s.Name, ErrTLS)
	}
	return symValue{}, &UndefinedSymbolError{Object: o.name, Symbol: s.Name, Version: s.Version}
}

// tlsDefinition returns the value of an STT_TLS symbol o defines: its
// offset in o's TLS block, and o's module.
func (o *object) tlsDefinition(s *elfimage.Symbol) (symValue, error) {
	if o.tls == nil {
		return symValue{}, fmt.Errorf("%s: thread-local symbol %q in an object without a PT_TLS segment: %w", o.name, s.Name, elfimage.ErrMalformed)
	}
	return symValue{addr: s.Value, tls: true, mod: o.tls.ID()}, nil
}

// definition returns the value of a symbol o defines (an IFUNC's resolver,
// flagged, to be called once o is otherwise relocated).
func (o *object) definition(s *elfimage.Symbol) (symValue, error) {
	if s.Type == elf.STT_GNU_IFUNC {
		if !inSpans(o.p.exec, s.Value, 1) {
			return symValue{}, fmt.Errorf("%s: ifunc %q: resolver %#x is not inside an executable segment: %w", o.name, s.Name, s.Value, elfimage.ErrMalformed)
		}
		return symValue{addr: o.base + s.Value, ifunc: true}, nil
	}
	return symValue{addr: o.base + s.Value}, nil
}

// nameHash is a symbol name with its hashes, each computed at most once
// and only when an object's table needs it (most objects have only a GNU
// hash table).
type nameHash struct {
	name          string
	gnu, sysv     uint32
	haveG, haveSV bool
}

func newNameHash(name string) nameHash { return nameHash{name: name} }

// lookup finds the name in t (see elfimage.SymTab.LookupHashed).
func (h *nameHash) lookup(t elfimage.SymTab, version string) (int, bool) {
	d := t.Dynamic()
	if d == nil {
		return -1, false
	}
	if d.GNUHash != nil {
		if !h.haveG {
			h.gnu, h.haveG = elfimage.GNUHashOf(h.name), true
		}
	} else if !h.haveSV {
		h.sysv, h.haveSV = elfimage.SysVHashOf(h.name), true
	}
	return t.LookupHashed(h.name, h.gnu, h.sysv, version)
}

// hostKey is a symbol name and version looked up in the host C libraries.
type hostKey struct{ name, version string }

var (
	hostLibsOnce sync.Once
	hostLibs     []*dlsvc.HostLibrary
	// hostCache holds hostLookup's answers (0: not found). A map under
	// a lock: sync.Map allocated a node and boxed the key and value for
	// each of a first load's hundreds of new entries. It is made with
	// the host libraries, with room for a library's imports: grown from
	// empty, it rehashed five times during a first load, which cost more
	// than the lookups it holds.
	hostCache struct {
		sync.RWMutex
		m map[hostKey]uintptr
	}
)

// hostCacheRoom is how many answers hostCache holds before it grows:
// what a library imports from the C library (libsqlite3 90, libcrypto 144).
const hostCacheRoom = 128

// hostLookup finds name (of the given version, "" for the default one) in
// the host's C libraries, libc first. Results, misses included, are
// cached for the life of the process: those libraries never unload.
func hostLookup(name, version string) (uintptr, bool) {
	k := hostKey{name, version}
	hostCache.RLock()
	a, ok := hostCache.m[k]
	hostCache.RUnlock()
	if ok {
		return a, a != 0
	}
	hostLibsOnce.Do(func() {
		hostCache.Lock()
		hostCache.m = make(map[hostKey]uintptr, hostCacheRoom)
		hostCache.Unlock()
		for _, n := range dlsvc.HostLibraryNames() {
			if h, err := dlsvc.OpenHostLibrary(n); err == nil {
				hostLibs = append(hostLibs, h)
			}
		}
	})
	var addr uintptr
	for _, h := range hostLibs {
		if a, ok := h.Lookup(name, version); ok {
			addr = a
			break
		}
	}
	hostCache.Lock()
	hostCache.m[k] = addr
	hostCache.Unlock()
	return addr, addr != 0
}
