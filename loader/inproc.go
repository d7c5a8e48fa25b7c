package loader

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"github.com/runplug/runplug/internal/pcall"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/wire"
)

// inProcess is a plugin runplug loaded into the host's address space:
// every call goes through the Plugin's gate, which Close waits on, and
// memory is the host's own. hostLib embeds it for its calls and memory.
// (The hot methods are declared on inProcess itself, not promoted from an
// embedded type: a promoted method is reached through a wrapper, one
// call more on every call.)
type inProcess struct{ p *Plugin }

func (g inProcess) callInts(f *Func, n int, a0, a1, a2, a3, a4, a5 uint64) (pcall.Result, error) {
	var ints [6]uint64 // element by element: no composite literal copied whole
	ints[0], ints[1], ints[2], ints[3], ints[4], ints[5] = a0, a1, a2, a3, a4, a5
	return g.callIntsIn(f, ints[:n])
}

// callIntsIn is callInts reading the integers in place: the register paths
// of Func.Call and of bindings call it directly when the backend is in
// process, with no dispatch and no copy (docs/PERFORMANCE.md).
func (g inProcess) callIntsIn(f *Func, ints []uint64) (pcall.Result, error) {
	p := g.p
	if fl := p.flags.Load(); fl != 0 {
		return pcall.Result{}, p.refused(f, fl)
	}
	c := p.gate.Ints(f.addr, ints) // CallInts in this frame: one frame fewer
	if !c.Run() {
		return pcall.Result{}, p.callFailed(f, c.Err())
	}
	return c.Result(), nil
}

func (g inProcess) callRegs(f *Func, i0, i1, i2, i3, i4, i5 uint64, x0, x1, x2, x3, x4, x5, x6, x7 float64) (pcall.Result, error) {
	p := g.p
	if fl := p.flags.Load(); fl != 0 {
		return pcall.Result{}, p.refused(f, fl)
	}
	var a pcall.Args // element by element: no composite literal copied whole
	a.Int[0], a.Int[1], a.Int[2], a.Int[3], a.Int[4], a.Int[5] = i0, i1, i2, i3, i4, i5
	a.Float[0], a.Float[1], a.Float[2], a.Float[3] = x0, x1, x2, x3
	a.Float[4], a.Float[5], a.Float[6], a.Float[7] = x4, x5, x6, x7
	r, err := p.gate.Call(f.addr, &a)
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

func (g inProcess) call(ctx context.Context, f *Func, a pcall.Args, bufs []wire.Buffer) (pcall.Result, error) {
	if len(bufs) != 0 {
		return g.callPinned(ctx, f, a, bufs) // remote_unsafe.go
	}
	p := g.p
	if fl := p.flags.Load(); fl != 0 {
		return pcall.Result{}, p.refused(f, fl)
	}
	var r pcall.Result
	var err error
	if ctx == nil {
		r, err = p.gate.Call(f.addr, &a)
	} else {
		r, err = p.gate.CallContext(ctx, f.addr, &a)
	}
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

func (g inProcess) callFrame(ctx context.Context, f *Func, fr *pcall.Frame) (pcall.FrameResult, error) {
	p := g.p
	if fl := p.flags.Load(); fl != 0 {
		return pcall.FrameResult{}, p.refused(f, fl)
	}
	r, err := p.gate.CallFrame(ctx, f.addr, fr)
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

func (g inProcess) callRemoteFrame(ctx context.Context, f *Func, fr *wire.RemoteFrame) (pcall.FrameResult, error) {
	return pcall.FrameResult{}, fmt.Errorf("loader: call %s in %s: a frame laid out for another process: %w", f.name, g.p.obj.name, ErrUnsupported)
}

func (g inProcess) inHostCall() bool { return false }

func (g inProcess) funcAt(uintptr) (uint32, error) { return 0, nil }

func (g inProcess) readMemory(addr uintptr, dst []byte) error  { return readInto(addr, dst) }
func (g inProcess) writeMemory(addr uintptr, src []byte) error { return writeFrom(addr, src) }

func (g inProcess) readString(addr uintptr, max int) (string, error) {
	bound := max
	if max < 0 {
		bound = maxCString + 1
	}
	s, err := pcall.CString(addr, bound) // the one in-process C-string reader
	if err != nil {
		return "", fmt.Errorf("loader: %w", err)
	}
	if max < 0 && len(s) > maxCString {
		return "", fmt.Errorf("loader: read C string at %#x: longer than %d bytes", addr, maxCString)
	}
	return s, nil
}

func (g inProcess) alloc(ctx context.Context, n uint64) (uintptr, error) {
	p, err := cMalloc(ctx, n)
	return uintptr(p), err
}

func (g inProcess) free(ctx context.Context, addr uintptr) error { return cFree(ctx, addr) }

func (g inProcess) isolated() bool { return false }

func (g inProcess) restart(context.Context) error {
	return fmt.Errorf("loader: restart %s: %w", g.p.obj.name, errNotIsolated)
}

func (g inProcess) lookup(name, version string) (Symbol, uint32, error) {
	p := g.p
	if p.flags.Load()&stClosing != 0 {
		return Symbol{}, 0, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrClosed)
	}
	h := newNameHash(name)
	for _, n := range p.obj.search {
		o := n.obj
		if o == nil {
			if s, ok := p.lookupGlibc(n.host, name, version); ok {
				return s, 0, nil
			}
			continue
		}
		i, ok := h.lookup(o.syms, version)
		if !ok {
			continue
		}
		s, err := o.def(i)
		if err != nil {
			return Symbol{}, 0, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, err)
		}
		s.Name = name
		sym, err := p.symbolOf(o, i, s)
		if err != nil {
			return Symbol{}, 0, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, err)
		}
		return sym, 0, nil
	}
	return Symbol{}, 0, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrSymbolNotFound)
}

// symbolOf returns o's definition i (s) as a Symbol: its absolute address,
// an IFUNC's resolved.
func (p *Plugin) symbolOf(o *object, i int, s elfimage.Symbol) (Symbol, error) {
	if s.Type == elf.STT_TLS {
		return Symbol{}, fmt.Errorf("a thread-local variable has one address per OS thread, which means nothing to a goroutine (export a function that returns or uses it): %w", ErrTLS)
	}
	var addr uintptr
	switch {
	case s.Shndx == elf.SHN_ABS:
		addr = uintptr(s.Value)
	case s.Type == elf.STT_GNU_IFUNC:
		var err error
		if addr, err = p.resolveIFunc(o, i); err != nil {
			return Symbol{}, err
		}
	default:
		addr = uintptr(o.base + s.Value)
	}
	return Symbol{Name: s.Name, Addr: addr, Size: s.Size, Version: s.Version,
		Func: s.Type == elf.STT_FUNC || s.Type == elf.STT_GNU_IFUNC}, nil
}

// symbols lists the definitions the plugin's own object exports (not its
// dependencies'), in symbol table order, thread-local variables left out.
func (g inProcess) symbols() ([]Symbol, error) {
	p := g.p
	if p.flags.Load()&stClosing != 0 {
		return nil, fmt.Errorf("loader: symbols of %s: %w", p.obj.name, ErrClosed)
	}
	o := p.obj
	var out []Symbol
	for i := 1; i < o.syms.Len(); i++ {
		s, err := o.symbol(i)
		if err != nil {
			return nil, fmt.Errorf("loader: symbols of %s: %w", p.obj.name, err)
		}
		if !exported(&s) {
			continue
		}
		sym, err := p.symbolOf(o, i, s)
		if err != nil {
			return nil, fmt.Errorf("loader: symbols of %s: %q: %w", p.obj.name, s.Name, err)
		}
		out = append(out, sym)
	}
	return out, nil
}

// exported reports whether s is a definition Symbols lists: defined,
// global or weak, of a type that has an address, and not the absolute
// symbol the linker makes for a version definition (named as it).
func exported(s *elfimage.Symbol) bool {
	if !s.Defined() || s.Bind == elf.STB_LOCAL || s.Name == "" {
		return false
	}
	if s.Shndx == elf.SHN_ABS && s.Name == s.Version {
		return false
	}
	switch s.Type {
	case elf.STT_FUNC, elf.STT_GNU_IFUNC, elf.STT_OBJECT, elf.STT_NOTYPE, elf.STT_COMMON:
		return true
	}
	return false
}

func (g inProcess) close(ctx context.Context) error {
	p := g.p
	p.flags.Or(stClosing)
	// Wait for the calls in flight: IFUNC resolvers, then gated calls.
	p.slow.Lock()
	p.slow.Unlock() // an empty critical section: only the wait matters
	if err := p.gate.Close(); err != nil {
		// Not ErrCloseInCall (checked by CloseContext); a failed
		// membarrier. Keep the image mapped: a call may still run in it.
		return fmt.Errorf("loader: close %s: %w", p.obj.name, err)
	}

	l := p.l
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.opCtx // Loader.Close's, when it closes this plugin
	l.opCtx = ctx
	defer func() { l.opCtx = prev }()
	if l.isResident(p.obj) {
		// DF_1_NODELETE: the instance stays until the Loader closes.
		delete(l.plugins, p)
		return nil
	}
	if l.dropGlobal(p.obj) { // global.go
		// LoadOptions.Global, and a live plugin's imports are bound to
		// it: the instance stays until the Loader closes.
		l.heldGlobal = append(l.heldGlobal, &resident{root: p.obj, closure: p.closure})
		delete(l.plugins, p)
		return nil
	}
	var errs []error
	if p.flags.Load()&stQuarantined == 0 {
		if err := l.runFini(p.obj); err != nil {
			errs = append(errs, err)
		}
	} else {
		p.log.Warn("skipping destructors of quarantined plugin", "plugin", p.obj.name)
	}
	if err := p.obj.closeState(true); err != nil {
		errs = append(errs, err)
	}
	// Release the dependencies before retiring the image: those private
	// to this instance (instance.go) may need it back, and their
	// destructors run then, as glibc runs every destructor of what it
	// unloads before it unmaps any.
	if err := l.release(p.closure); err != nil {
		errs = append(errs, err)
	}
	l.retire(p.obj)
	delete(l.plugins, p)
	if p.log.IsDebug() { // the arguments would be boxed even for a silent logger
		p.log.Debug("closed plugin", "plugin", p.obj.name, "path", p.obj.path)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loader: close %s: %w", p.obj.name, err)
	}
	return nil
}
