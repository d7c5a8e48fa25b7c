package loader

import (
	"debug/elf"
	"fmt"
	"path/filepath"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/elfimage"
)

// hostLib is what a Plugin made by Load of one of glibc's own libraries
// holds: the host's library (dlsym) and, when its file could be parsed,
// its dynamic section (for the type and size of a symbol).
type hostLib struct {
	lib *dlsvc.HostLibrary
	dyn *elfimage.Dynamic // nil when the file could not be parsed
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
		if f, err := elfimage.ParseFile(c.Path); err == nil && f.Dynamic != nil {
			h.dyn, file = f.Dynamic, c.Path
			break
		}
	}
	if abs, err := filepath.Abs(file); err == nil && file != "" {
		file = abs
	}
	pl := newPlugin(l, &object{l: l, name: soname, path: file}, nil)
	pl.host = h
	l.plugins[pl] = struct{}{}
	pl.log.Debug("host library as a plugin", "plugin", soname, "path", file)
	return pl, nil
}

// lookupHost is LookupVersion for a host library: dlsym (dlvsym), with the
// symbol's type and size from the file when known.
func (p *Plugin) lookupHost(name, version string) (Symbol, error) {
	addr, ok := p.host.lib.Lookup(name, version)
	if !ok {
		return Symbol{}, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrSymbolNotFound)
	}
	s := Symbol{Name: name, Addr: addr, Version: version, Func: true}
	if d := p.host.dyn; d != nil {
		if i, ok := d.Lookup(name, version); ok {
			def := &d.Symbols[i]
			if def.Type == elf.STT_TLS {
				return Symbol{}, fmt.Errorf("loader: lookup %q in %s: a thread-local variable of the host C library: %w", name, p.obj.name, ErrTLS)
			}
			s.Size, s.Version = def.Size, def.Version
			s.Func = def.Type == elf.STT_FUNC || def.Type == elf.STT_GNU_IFUNC
		}
	}
	return s, nil
}

// closeHost is Close for a host library: the library stays loaded in the
// host (glibc's libraries are never unloaded); calls stop.
func (p *Plugin) closeHost() error {
	p.flags.Or(stClosing)
	if err := p.gate.Close(); err != nil {
		return fmt.Errorf("loader: close %s: %w", p.obj.name, err)
	}
	p.l.mu.Lock()
	delete(p.l.plugins, p)
	p.l.mu.Unlock()
	return nil
}
