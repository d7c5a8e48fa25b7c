package loader

import (
	"context"
	"debug/elf"
	"fmt"
	"path/filepath"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/elfimage"
)

// hostLib is the backend of a Plugin made by Load of one of glibc's own
// libraries: the host's library (dlsym) and, when its file was found, its
// symbol table (for the type and size of a symbol). Its calls go through
// the gate as a plugin's do.
type hostLib struct {
	inProcess
	lib *dlsvc.HostLibrary
	// syms is the file's symbol table (hostSymTab); Len 0 when the file
	// was not found or could not be read.
	syms elfimage.SymTab
}

// loadHost returns a Plugin for glibc's library soname as the host has it
// (loaded by glibc now when it was not). Nothing is mapped and no
// constructor runs: its calls still go through the sandbox. l.mu is held.
func (l *Loader) loadHost(soname, path string) (*Plugin, error) {
	lib, err := dlsvc.OpenHostLibrary(soname)
	if err != nil {
		return nil, fmt.Errorf("loader: load %s: %w", path, err)
	}
	h := &hostLib{lib: lib}
	file := ""
	for _, c := range l.search.Candidates(soname, nil) {
		if t, ok := hostSymTab(c.Path); ok {
			h.syms, file = t, c.Path
			break
		}
	}
	if abs, err := filepath.Abs(file); err == nil && file != "" {
		file = abs
	}
	pl := newPlugin(l, &object{l: l, name: soname, path: file}, nil)
	h.p = pl
	pl.be = h
	l.plugins[pl] = struct{}{}
	pl.log.Debug("host library as a plugin", "plugin", soname, "path", file)
	return pl, nil
}

// lookup is dlsym (dlvsym), with the symbol's type and size from the file
// when known.
func (h *hostLib) lookup(name, version string) (Symbol, uint32, error) {
	p := h.p
	if p.flags.Load()&stClosing != 0 {
		return Symbol{}, 0, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrClosed)
	}
	addr, ok := h.lib.Lookup(name, version)
	if !ok {
		return Symbol{}, 0, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrSymbolNotFound)
	}
	s := Symbol{Name: name, Addr: addr, Version: version, Func: true}
	if h.syms.Len() == 0 {
		return s, 0, nil
	}
	if i, ok := h.syms.Lookup(name, version); ok {
		if def, err := h.syms.Def(i); err == nil {
			if def.Type == elf.STT_TLS {
				return Symbol{}, 0, fmt.Errorf("loader: lookup %q in %s: a thread-local variable of the host C library: %w", name, p.obj.name, ErrTLS)
			}
			s.Size, s.Version = def.Size, def.Version
			s.Func = def.Type == elf.STT_FUNC || def.Type == elf.STT_GNU_IFUNC
		}
	}
	return s, 0, nil
}

// symbols lists the library's exports from its file, each at the address
// dlvsym gives it in the host.
func (h *hostLib) symbols() ([]Symbol, error) {
	p := h.p
	if p.flags.Load()&stClosing != 0 {
		return nil, fmt.Errorf("loader: symbols of %s: %w", p.obj.name, ErrClosed)
	}
	if h.syms.Len() == 0 {
		return nil, fmt.Errorf("loader: symbols of %s: the host's file of it was not found or could not be parsed: %w", p.obj.name, ErrNotFound)
	}
	var out []Symbol
	for i := 1; i < h.syms.Len(); i++ {
		sym, err := h.syms.Symbol(i)
		if err != nil {
			return nil, fmt.Errorf("loader: symbols of %s: %w", p.obj.name, err)
		}
		s := &sym
		if !exported(s) {
			continue
		}
		addr, ok := h.lib.Lookup(s.Name, s.Version)
		if !ok {
			continue // a definition the host's copy does not export
		}
		out = append(out, Symbol{Name: s.Name, Addr: addr, Size: s.Size, Version: s.Version,
			Func: s.Type == elf.STT_FUNC || s.Type == elf.STT_GNU_IFUNC})
	}
	return out, nil
}

// close is Close for a host library: the library stays loaded in the host
// (glibc's libraries are never unloaded); calls stop.
func (h *hostLib) close(ctx context.Context) error {
	p := h.p
	p.flags.Or(stClosing)
	err := p.gate.CloseContext(ctx) // a call left running is harmless: the library stays
	p.l.mu.Lock()
	delete(p.l.plugins, p)
	p.l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("loader: close %s: %w", p.obj.name, err)
	}
	return nil
}
