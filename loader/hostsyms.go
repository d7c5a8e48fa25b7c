package loader

import (
	"errors"
	"fmt"
	"sort"
)

// Host symbols (Options.HostSymbols and AddHostSymbols): imports bound by
// name to addresses the host supplies. The table is replaced whole by
// each addition and read without a lock (relocation holds the Loader's
// lock, but dlsym(RTLD_DEFAULT) runs in plugin code, which holds none).

// hostSymbol returns the address the host supplies for name.
func (l *Loader) hostSymbol(name string) (uintptr, bool) {
	m := l.hostSyms.Load()
	if m == nil {
		return 0, false
	}
	a, ok := (*m)[name]
	return a, ok
}

// hasHostSymbols reports whether the host supplies any symbol.
func (l *Loader) hasHostSymbols() bool {
	m := l.hostSyms.Load()
	return m != nil && len(*m) > 0
}

// AddHostSymbols adds imports by name, as Options.HostSymbols supplies
// them: the plugins loaded after it bind those names to these addresses
// (those already loaded keep what they bound). A name the host already
// supplies, as a host symbol or a registered host function, is refused
// with an error wrapping ErrHostFuncExists, and so is an empty name or a
// zero address; on any error nothing is added. A Loader that isolates its
// plugins refuses them all (host addresses mean nothing in a plugin's
// process: register host functions instead), wrapping
// ErrUnsupported. The map is copied.
func (l *Loader) AddHostSymbols(syms map[string]uintptr) error {
	if l.opts.Isolation != nil {
		return fmt.Errorf("loader: add host symbols: addresses in the host mean nothing in an isolated plugin's process (register host functions instead): %w", ErrUnsupported)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("loader: add host symbols: %w", ErrClosed)
	}
	names := make([]string, 0, len(syms))
	for name := range syms {
		names = append(names, name)
	}
	sort.Strings(names) // the first bad name in a stable order
	for _, name := range names {
		switch {
		case name == "":
			return errors.New("loader: add host symbols: an empty name")
		case syms[name] == 0:
			return fmt.Errorf("loader: add host symbol %q: a zero address", name)
		}
		if _, ok := l.hostSymbol(name); ok || l.hostFuncRegistered(name) {
			return fmt.Errorf("loader: add host symbol %q: %w", name, ErrHostFuncExists)
		}
	}
	var next map[string]uintptr
	if m := l.hostSyms.Load(); m != nil {
		next = cloneSyms(*m)
	} else {
		next = map[string]uintptr{}
	}
	for name, a := range syms {
		next[name] = a
	}
	l.hostSyms.Store(&next)
	return nil
}

// cloneSyms returns a copy of m.
func cloneSyms(m map[string]uintptr) map[string]uintptr {
	c := make(map[string]uintptr, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
