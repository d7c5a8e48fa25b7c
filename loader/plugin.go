package loader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/pcall"
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

	// flags holds stClosing, stClosed and stQuarantined. A call only loads it (a
	// quick refusal); the calls in flight that Close waits for are
	// tracked by gate, which needs no atomic read-modify-write per call
	// (see pcall.Gate): the in-flight counter this replaces cost two
	// locked adds on one shared cache line per call.
	flags atomic.Uint32
	gate  *pcall.Gate
	// slow is held (read) by the calls into the plugin that do not go
	// through gate (IFUNC resolvers of Lookup); Close takes it to wait
	// for them.
	slow      sync.RWMutex
	closeOnce sync.Once
	closeErr  error

	// be is where the plugin's code runs (backend.go): in process,
	// one of the host's glibc libraries, or a child process.
	be backend
}

const (
	stClosing     = 1 << 0 // Close has begun: calls are refused
	stQuarantined = 1 << 1
	// stClosed is set once Close has returned: the plugin's memory is
	// no longer its own (while Close waits for a call in flight, a host
	// may still write what that call waits for).
	stClosed = 1 << 2
)

var pluginSeq atomic.Uint64

// newPlugin returns a Plugin of o loaded in process (its backend
// replaced for another kind).
func newPlugin(l *Loader, o *object, closure []*object) *Plugin {
	p := &Plugin{
		l: l, obj: o, closure: closure,
		log:  l.log.Named(o.name),
		seq:  pluginSeq.Add(1),
		gate: pcall.NewGate(),
	}
	p.be = inProcess{p}
	return p
}

// Name returns the plugin's name: its DT_SONAME, or else the base name of
// its file (the name given to LoadBytes).
func (p *Plugin) Name() string { return p.obj.name }

// Path returns the absolute path the plugin was loaded from ("" for
// LoadBytes).
func (p *Plugin) Path() string { return p.obj.path }

// Base returns the load base of the plugin's image: the address that its
// virtual address 0 is mapped at (0 for one of glibc's libraries, which
// the host's dynamic linker mapped).
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
// else in its dependencies, as dlsym does on a handle: breadth-first in
// DT_NEEDED order, glibc's libraries among them included at their places
// (Lookup("malloc") on libz finds libc's), unless Options.NoHostC or
// Options.AllowC keep the name from plugins. It wraps ErrSymbolNotFound
// when there is none and ErrClosed after Close.
func (p *Plugin) Lookup(name string) (Symbol, error) {
	return p.LookupVersion(name, "")
}

// LookupVersion is Lookup for a given symbol version ("" is any default
// or unversioned definition), as dlvsym does.
func (p *Plugin) LookupVersion(name, version string) (Symbol, error) {
	s, _, err := p.be.lookup(name, version)
	return s, err
}

// Symbols lists the symbols the plugin's own object defines and exports
// (not its dependencies'): functions and data, with their sizes and
// versions, a function of an IFUNC at its resolved target. Thread-local
// variables are left out (see Lookup). It fails with ErrClosed after
// Close.
func (p *Plugin) Symbols() ([]Symbol, error) { return p.be.symbols() }

// lookupGlibc finds name in glibc's library soname itself (one step of
// Lookup's search), within Options.NoHostC and AllowC.
func (p *Plugin) lookupGlibc(soname, name, version string) (Symbol, bool) {
	if p.l.opts.NoHostC || p.l.allowC != nil && !p.l.allowC[name] {
		return Symbol{}, false
	}
	h, err := dlsvc.OpenHostLibrary(soname)
	if err != nil {
		return Symbol{}, false
	}
	s, ok := h.LookupOwn(name, version)
	if !ok {
		return Symbol{}, false
	}
	return Symbol{Name: name, Addr: s.Addr, Size: s.Size, Func: s.Func, Version: version}, true
}

// resolveIFunc calls an IFUNC resolver as a call into the plugin (not
// through the gate: Lookup is not a hot path; Close waits on slow).
func (p *Plugin) resolveIFunc(o *object, i int) (uintptr, error) {
	p.slow.RLock()
	defer p.slow.RUnlock()
	if err := p.refusal(p.flags.Load()); err != nil {
		return 0, err
	}
	return o.symbolAddr(i)
}

// Func is a function of a plugin, ready to be called: the one thing a
// host calls. It comes from a name (Plugin.Func, Plugin.FuncSig), from a
// C function pointer (Plugin.FuncAt) or from a live plugin (Live.Func,
// whose calls reach the version serving when they start), and every
// typed binding (Bind0..Bind8, Bind, BindVariadic) is made from one. A
// call through any Func has the plugin's full protections: a fault is
// returned as the error and quarantines the plugin, a done context
// interrupts the call, and Plugin.Close waits for the call to return.
type Func struct {
	p      *Plugin
	name   string
	addr   uintptr
	handle uint32           // an isolated plugin's name for it (remote.go)
	sig    *Signature       // set by FuncSig and FuncAt, for CallSig
	live   *liveCell[*Func] // set by Live.Func: the serving version's Func
}

// Func looks name up (see Lookup) and returns it as a callable function.
// It wraps ErrSymbolNotFound when name is not defined, and refuses a data
// symbol.
func (p *Plugin) Func(name string) (*Func, error) {
	s, handle, err := p.be.lookup(name, "")
	if err != nil {
		return nil, err
	}
	if !s.Func {
		return nil, fmt.Errorf("loader: %s in %s is data, not a function: %w", name, p.obj.name, ErrSymbolNotFound)
	}
	return &Func{p: p, name: name, addr: s.Addr, handle: handle}, nil
}

// Name returns the function's symbol name ("func@0xADDR" for FuncAt's).
func (f *Func) Name() string { return f.name }

// Addr returns the function's address (in the plugin's process when it
// is isolated; for a Live's Func, in the version serving now).
func (f *Func) Addr() uintptr { return f.serving().addr }

// serving returns the Func a call through f reaches now: f itself, or
// the serving version's for a Live's Func.
func (f *Func) serving() *Func {
	if f.live != nil {
		return f.live.cur.Load().fn
	}
	return f
}

// Call calls the function with up to 6 integer or pointer arguments
// (rdi, rsi, rdx, rcx, r8, r9) and returns its integer result (rax). For
// floating-point arguments, more arguments, structs by value, buffers or
// variadic functions, use a typed binding (Bind0...) or a Signature and
// CallSig.
//
// ctx bounds the call: when it is done before the function returns, the
// call is interrupted (in process, by a signal to the thread running it;
// isolated, by ending the child) and fails with an error wrapping
// ErrDeadline, and the plugin is quarantined. A ctx that can never be
// done (context.Background) costs nothing. A nil ctx panics.
//
// A pointer argument is a plain address, in the plugin's process: Go
// memory passed this way follows the cgo rules (pinned, no Go pointers
// in it, used during the call only), and works only in process; pass a
// []byte through CallSig or a binding to work both ways. A C function
// pointer for a Go function is a Callback's Ptr.
//
// A fault in the call is returned as the error (a *FaultError, wrapped)
// and quarantines the plugin; a call into a closed or quarantined plugin
// fails with ErrClosed or ErrQuarantined.
func (f *Func) Call(ctx context.Context, args ...uint64) (uint64, error) {
	// The call measured against cgo: in process, no deadline to watch.
	// inProcess.callIntsIn by hand (it is too large to inline), and every
	// other case in callSlow, so that none of their values is live here:
	// each would be one more store before the runtime's locked
	// instruction on the way into C (docs/PERFORMANCE.md).
	if f.live != nil { // a Live's Func has no plugin of its own
		return f.callSlow(ctx, args)
	}
	if g, ok := f.p.be.(inProcess); ok && len(args) <= 6 && neverDone(ctx) {
		p := g.p
		if n := p.flags.Load(); n != 0 {
			return 0, p.refused(f, n)
		}
		c := p.gate.Ints(f.addr, args)
		if !c.Run() {
			return 0, p.callFailed(f, c.Err())
		}
		return c.Int(), nil
	}
	return f.callSlow(ctx, args)
}

// callSlow is Call for every case but its first: a deadline to watch, a
// Live's Func, an isolated plugin, too many arguments, a nil ctx.
func (f *Func) callSlow(ctx context.Context, args []uint64) (uint64, error) {
	mustContext(ctx)
	if len(args) > 6 {
		return 0, fmt.Errorf("loader: call %s: %d integer arguments, at most 6", f.name, len(args))
	}
	if f.live != nil {
		return f.callLive(ctx, args)
	}
	if ctx.Done() != nil {
		var a pcall.Args
		for i, v := range args {
			a.Int[i] = v
		}
		r, err := f.p.be.call(ctx, f, a, nil)
		return r.Int, err
	}
	var regs [6]uint64
	for i, v := range args { // not copy: a memmove call on this path
		regs[i] = v
	}
	r, err := f.p.be.callInts(f, len(args), regs[0], regs[1], regs[2], regs[3], regs[4], regs[5])
	return r.Int, err
}

// callLive is Call through a Live's Func: on the serving version, made
// again on the next one when a reload turned it away unrun.
func (f *Func) callLive(ctx context.Context, args []uint64) (uint64, error) {
	for {
		v := f.live.cur.Load()
		r, err := v.fn.Call(ctx, args...)
		if err == nil || !f.live.again(v, err) {
			return r, err
		}
	}
}

// callArgs calls the function with the argument registers of a (nil: all
// zero) and returns both result registers; a nil ctx is no deadline. It
// is the isolated child's form (internal/rawcall), whose host laid the
// registers out.
func (f *Func) callArgs(ctx context.Context, a *pcall.Args) (pcall.Result, error) {
	f = f.serving()
	if ctx == nil || ctx.Done() == nil {
		return f.p.call(f, a)
	}
	return f.p.callContext(ctx, f, a)
}

// refusal returns the error of a call that finds flags set: ErrClosed or
// ErrQuarantined (nil when none is).
func (p *Plugin) refusal(flags uint32) error {
	switch {
	case flags&stClosing != 0:
		return ErrClosed
	case flags&stQuarantined != 0:
		return ErrQuarantined
	}
	return nil
}

// call performs one protected call of f. It is kept apart from
// callContext so that a does not escape: callers keep their
// argument block on the stack.
func (p *Plugin) call(f *Func, a *pcall.Args) (pcall.Result, error) {
	if a == nil {
		return p.be.callRegs(f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	i, x := &a.Int, &a.Float
	return p.be.callRegs(f, i[0], i[1], i[2], i[3], i[4], i[5], x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
}

// callInts is call for a function whose arguments are all integers or
// pointers, through Gate.CallInts, which reads ints in place (filling an
// Args shows on a path this short). Func.Call has its body inlined.
func (p *Plugin) callInts(f *Func, ints []uint64) (pcall.Result, error) {
	if g, ok := p.be.(inProcess); ok {
		return g.callIntsIn(f, ints)
	}
	var regs [6]uint64
	for i, v := range ints { // not copy: a memmove call on this path
		regs[i] = v
	}
	return p.be.callInts(f, len(ints), regs[0], regs[1], regs[2], regs[3], regs[4], regs[5])
}

// refused returns the error of a call that found the plugin closing or
// quarantined (flags n).
func (p *Plugin) refused(f *Func, n uint32) error {
	return fmt.Errorf("loader: call %s in %s: %w", f.name, p.obj.name, p.refusal(n))
}

// callContext is call with a deadline.
func (p *Plugin) callContext(ctx context.Context, f *Func, a *pcall.Args) (pcall.Result, error) {
	return p.be.call(ctx, f, argsOf(a), nil)
}

// callFailed quarantines the plugin (unless KeepAfterFault) after a
// fault, an interrupt or an abort, and wraps err.
func (p *Plugin) callFailed(f *Func, err error) error {
	if errors.Is(err, pcall.ErrGateClosed) {
		// Close began between the flags check and the call: the
		// function was not called.
		return fmt.Errorf("loader: call %s in %s: %w", f.name, p.obj.name, ErrClosed)
	}
	if !p.l.opts.KeepAfterFault {
		p.flags.Or(stQuarantined)
		p.log.Warn("call failed, plugin quarantined", "plugin", p.obj.name, "symbol", f.name, "error", err)
	}
	return fmt.Errorf("loader: call %s in %s: %w", f.name, p.obj.name, err)
}

// Quarantined reports whether a failed call has quarantined the plugin.
func (p *Plugin) Quarantined() bool { return p.flags.Load()&stQuarantined != 0 }

// Close unloads the plugin: it waits for calls in flight (later calls fail
// with ErrClosed), runs the destructors (DT_FINI_ARRAY in reverse, then
// DT_FINI; skipped for a quarantined plugin, whose state is suspect),
// turns the image into a PROT_NONE tombstone (see
// Options.TombstoneBudget) that fault reports name "unloaded plugin NAME",
// and releases the dependencies nobody else holds. It is safe to call
// twice and concurrently; every call returns the first one's result.
//
// A host function that a call into this plugin is running (on this
// goroutine) cannot close the plugin: waiting for that call would never
// end. Close then returns an error wrapping pcall.ErrCloseInCall and
// leaves the plugin open; close it after the call returns.
//
// ctx bounds the wait for calls in flight and the plugin's destructors
// (and those of the libraries it alone held). When ctx is done while a
// call still runs in the plugin, Close stops waiting and returns an error
// wrapping ErrDeadline: later calls fail with ErrClosed, the running call
// goes on, and the plugin (with what it uses) stays mapped until the
// process ends, since unmapping code that runs would crash the host. A
// destructor still running when ctx is done is interrupted, as a call
// is, and Close returns an error wrapping ErrDeadline; the plugin is
// closed all the same. Isolated, a ctx done before the calls in flight
// have ended (or before Close begins) kills the child, which ends those
// calls with the child's exit error and skips the destructors, and
// Close returns an error wrapping ErrDeadline; the destructors' round
// trip is bounded by ctx and by one second. A nil ctx panics.
func (p *Plugin) Close(ctx context.Context) error {
	mustContext(ctx)
	if p.gate.InCall() || p.be.inHostCall() {
		return fmt.Errorf("loader: close %s: %w", p.obj.name, pcall.ErrCloseInCall)
	}
	p.closeOnce.Do(func() {
		p.closeErr = p.close(ctx)
		p.flags.Or(stClosed)
	})
	return p.closeErr
}

func (p *Plugin) close(ctx context.Context) error { return p.be.close(ctx) }
