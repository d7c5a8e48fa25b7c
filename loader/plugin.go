package loader

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/sandbox"
)

// Plugin is one loaded instance of a shared object. Calls into it are safe
// from many goroutines and may race Close: Close waits for the calls in
// flight, and later calls fail with ErrClosed.
type Plugin struct {
	l       *Loader
	obj     *object
	closure []*object // shared objects this instance holds
	log     hclog.Logger
	seq     uint64

	// state counts the calls in flight in its low bits; stClosing and
	// stQuarantined are flags above them. Calls add 1, check the flags
	// and subtract 1: no lock on the call path.
	state     atomic.Uint64
	drained   chan struct{} // closed when closing and no call is in flight
	drainOnce sync.Once
	closeOnce sync.Once
	closeErr  error
}

const (
	stClosing     = 1 << 62
	stQuarantined = 1 << 61
	stFlags       = stClosing | stQuarantined
)

var pluginSeq atomic.Uint64

func newPlugin(l *Loader, o *object, closure []*object) *Plugin {
	return &Plugin{
		l: l, obj: o, closure: closure,
		log:     l.log.Named(o.name),
		seq:     pluginSeq.Add(1),
		drained: make(chan struct{}),
	}
}

// Name returns the plugin's name: its DT_SONAME, or else the base name of
// its file (the name given to LoadBytes).
func (p *Plugin) Name() string { return p.obj.name }

// Path returns the absolute path the plugin was loaded from ("" for
// LoadBytes).
func (p *Plugin) Path() string { return p.obj.path }

// Base returns the load base of the plugin's image: the address that its
// virtual address 0 is mapped at.
func (p *Plugin) Base() uintptr { return uintptr(p.obj.base) }

// Symbol is a symbol a plugin defines, as Lookup returns it.
type Symbol struct {
	Name    string
	Addr    uintptr // absolute address (an IFUNC's resolved target)
	Size    uint64
	Func    bool   // a function (STT_FUNC or STT_GNU_IFUNC), else data
	Version string // the version it was found with ("" if unversioned)
}

// Lookup returns the default-version definition of name in the plugin or
// else in its dependencies (breadth-first), as dlsym does on a handle. It
// wraps ErrSymbolNotFound when there is none and ErrClosed after Close.
func (p *Plugin) Lookup(name string) (Symbol, error) {
	return p.LookupVersion(name, "")
}

// LookupVersion is Lookup for a given symbol version ("" is any default
// or unversioned definition), as dlvsym does.
func (p *Plugin) LookupVersion(name, version string) (Symbol, error) {
	if p.state.Load()&stClosing != 0 {
		return Symbol{}, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrClosed)
	}
	h := newNameHash(name)
	for _, o := range p.obj.scope {
		i, ok := h.lookup(o.p.file.Dynamic, version)
		if !ok {
			continue
		}
		s := &o.p.file.Dynamic.Symbols[i]
		if s.Type == elf.STT_TLS {
			return Symbol{}, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrTLS)
		}
		var addr uintptr
		if s.Shndx == elf.SHN_ABS {
			addr = uintptr(s.Value)
		} else if s.Type == elf.STT_GNU_IFUNC {
			var err error
			if addr, err = p.resolveIFunc(o, i); err != nil {
				return Symbol{}, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, err)
			}
		} else {
			addr = uintptr(o.base + s.Value)
		}
		return Symbol{Name: name, Addr: addr, Size: s.Size, Version: s.Version,
			Func: s.Type == elf.STT_FUNC || s.Type == elf.STT_GNU_IFUNC}, nil
	}
	return Symbol{}, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrSymbolNotFound)
}

// resolveIFunc calls an IFUNC resolver as a call into the plugin.
func (p *Plugin) resolveIFunc(o *object, i int) (uintptr, error) {
	if err := p.enter(); err != nil {
		return 0, err
	}
	defer p.leave()
	return o.symbolAddr(i)
}

// Func is a function of a plugin, ready to be called. Calls cost one
// protected native call and no allocation.
type Func struct {
	p    *Plugin
	name string
	addr uintptr
}

// Func looks name up (see Lookup) and returns it as a callable function.
// It wraps ErrSymbolNotFound when name is not defined, and refuses a data
// symbol.
func (p *Plugin) Func(name string) (*Func, error) {
	s, err := p.Lookup(name)
	if err != nil {
		return nil, err
	}
	if !s.Func {
		return nil, fmt.Errorf("loader: %s in %s is data, not a function: %w", name, p.obj.name, ErrSymbolNotFound)
	}
	return &Func{p: p, name: name, addr: s.Addr}, nil
}

// Name returns the function's symbol name.
func (f *Func) Name() string { return f.name }

// Addr returns the function's address.
func (f *Func) Addr() uintptr { return f.addr }

// Call calls the function with up to 6 integer or pointer arguments
// (rdi, rsi, rdx, rcx, r8, r9) and returns its integer result (rax).
func (f *Func) Call(args ...uint64) (uint64, error) {
	if len(args) > 6 {
		return 0, fmt.Errorf("loader: call %s: %d integer arguments, at most 6", f.name, len(args))
	}
	var a sandbox.Args
	for i, v := range args { // at most 6: no memmove call
		a.Int[i] = v
	}
	r, err := f.p.call(f, &a)
	return r.Int, err
}

// CallFloat calls the function with up to 6 integer or pointer arguments
// and up to 8 double arguments (xmm0-xmm7) and returns its double result
// (xmm0).
func (f *Func) CallFloat(ints []uint64, floats []float64) (float64, error) {
	if len(ints) > 6 || len(floats) > 8 {
		return 0, fmt.Errorf("loader: call %s: %d integer and %d double arguments, at most 6 and 8", f.name, len(ints), len(floats))
	}
	var a sandbox.Args
	for i, v := range ints {
		a.Int[i] = v
	}
	for i, v := range floats {
		a.Float[i] = v
	}
	r, err := f.p.call(f, &a)
	return r.Float, err
}

// CallArgs calls the function with the argument registers of a (nil: all
// zero) and returns both result registers. When ctx is done before the
// function returns, the call is interrupted (see sandbox.CallContext) and
// the plugin is quarantined. ctx may be nil.
func (f *Func) CallArgs(ctx context.Context, a *sandbox.Args) (sandbox.Result, error) {
	if ctx == nil {
		return f.p.call(f, a)
	}
	return f.p.callContext(ctx, f, a)
}

// enter registers a call in flight, unless the plugin is closing or
// quarantined.
func (p *Plugin) enter() error {
	if n := p.state.Add(1); n&stFlags != 0 {
		p.leave()
		if n&stClosing != 0 {
			return ErrClosed
		}
		return ErrQuarantined
	}
	return nil
}

// leave ends a call in flight; the last one out of a closing plugin lets
// Close proceed. It is small enough to be inlined into the call paths.
func (p *Plugin) leave() {
	if n := p.state.Add(^uint64(0)); n&stClosing != 0 {
		p.leftClosing(n)
	}
}

// leftClosing is leave's slow path: a call ended while Close waits.
func (p *Plugin) leftClosing(n uint64) {
	if n&^stFlags == 0 {
		p.drainOnce.Do(func() { close(p.drained) })
	}
}

// call performs one protected call of f. It is kept apart from
// callContext so that a does not escape: Call and CallFloat keep their
// argument block on the stack.
func (p *Plugin) call(f *Func, a *sandbox.Args) (sandbox.Result, error) {
	// enter, inlined: one atomic add on the way in.
	if n := p.state.Add(1); n&stFlags != 0 {
		return sandbox.Result{}, p.refused(f, n)
	}
	r, err := sandbox.Call(f.addr, a)
	p.leave()
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

// refused undoes the count of a call that found the plugin closing or
// quarantined (state n) and returns its error.
func (p *Plugin) refused(f *Func, n uint64) error {
	p.leave()
	err := ErrQuarantined
	if n&stClosing != 0 {
		err = ErrClosed
	}
	return fmt.Errorf("loader: call %s in %s: %w", f.name, p.obj.name, err)
}

// callContext is call with a deadline.
func (p *Plugin) callContext(ctx context.Context, f *Func, a *sandbox.Args) (sandbox.Result, error) {
	if err := p.enter(); err != nil {
		return sandbox.Result{}, fmt.Errorf("loader: call %s in %s: %w", f.name, p.obj.name, err)
	}
	r, err := sandbox.CallContext(ctx, f.addr, a)
	p.leave()
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

// callFailed quarantines the plugin (unless KeepAfterFault) after a
// fault, an interrupt or an abort, and wraps err.
func (p *Plugin) callFailed(f *Func, err error) error {
	if !p.l.opts.KeepAfterFault {
		for {
			old := p.state.Load()
			if p.state.CompareAndSwap(old, old|stQuarantined) {
				break
			}
		}
		p.log.Warn("call failed, plugin quarantined", "plugin", p.obj.name, "symbol", f.name, "error", err)
	}
	return fmt.Errorf("loader: call %s in %s: %w", f.name, p.obj.name, err)
}

// Quarantined reports whether a failed call has quarantined the plugin.
func (p *Plugin) Quarantined() bool { return p.state.Load()&stQuarantined != 0 }

// Close unloads the plugin: it waits for calls in flight (later calls fail
// with ErrClosed), runs the destructors (DT_FINI_ARRAY in reverse, then
// DT_FINI; skipped for a quarantined plugin, whose state is suspect),
// turns the image into a PROT_NONE tombstone (see
// Options.TombstoneBudget) that fault reports name "unloaded plugin NAME",
// and releases the dependencies nobody else holds. It is safe to call
// twice and concurrently; every call returns the first one's result.
func (p *Plugin) Close() error {
	p.closeOnce.Do(func() { p.closeErr = p.close() })
	return p.closeErr
}

func (p *Plugin) close() error {
	for {
		old := p.state.Load()
		if p.state.CompareAndSwap(old, old|stClosing) {
			if old&^stFlags == 0 {
				p.drainOnce.Do(func() { close(p.drained) })
			}
			break
		}
	}
	<-p.drained

	l := p.l
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	if p.state.Load()&stQuarantined == 0 {
		if err := l.runFini(p.obj); err != nil {
			errs = append(errs, err)
		}
	} else {
		p.log.Warn("skipping destructors of quarantined plugin", "plugin", p.obj.name)
	}
	l.retire(p.obj)
	if err := l.release(p.closure); err != nil {
		errs = append(errs, err)
	}
	delete(l.plugins, p)
	if p.log.IsDebug() { // the arguments would be boxed even for a silent logger
		p.log.Debug("closed plugin", "plugin", p.obj.name, "path", p.obj.path)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loader: close %s: %w", p.obj.name, err)
	}
	return nil
}
