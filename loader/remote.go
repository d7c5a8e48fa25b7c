package loader

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/pcall"
)

// Isolated plugins.
//
// A Loader whose Options.Isolation is set loads every plugin in another
// process (see package isolate) instead of its own address space. The
// Plugin, Func and typed bindings are the same; their calls go through a
// Remote at the lowest point every call path shares (Func.Call,
// Plugin.call, Plugin.callInts, Plugin.callContext), so the bindings built
// on those need not know where the plugin runs. loader never imports
// isolate: it only knows these interfaces.

// Isolation starts isolated plugins. Package isolate implements it.
type Isolation interface {
	// Start loads the plugin that req describes in a new isolated
	// process and returns the handle the Plugin calls through.
	Start(req *RemoteLoad) (Remote, error)
}

// RemoteLoad is what an Isolation needs to load a plugin elsewhere.
type RemoteLoad struct {
	Path  string // the file (absolute; a name without a slash is searched for), "" with Image
	Name  string // the name given to Load or LoadBytes
	Image []byte // LoadBytes' image, nil with Path
	// Options are the Loader's, minus what has no meaning in another
	// process (Logger, HostSymbols, Isolation).
	Options Options
	// HostFuncs are the host functions registered with the Loader when
	// the load began, each callable from the other process.
	HostFuncs []RemoteHostFunc
	Logger    hclog.Logger
}

// RemoteHostFunc is a registered host function as an isolated plugin
// reaches it.
type RemoteHostFunc struct {
	Name string
	// Strings has bit i set when integer register i carries a C string
	// (a typed function's string parameter): the other process copies the
	// string across and the register is rewritten to the copy.
	Strings uint8
	// Call is the Go function of a register signature; nil for the
	// general form.
	Call RawHostFunc
	// Frame is the Go function of the general form (stack arguments,
	// structs by value), instead of Call: its stack arguments are
	// StackSize bytes, a MEMORY-class result SRetSize bytes (0: none).
	Frame     pcall.FrameFunc
	StackSize uint32
	SRetSize  uint32
}

// RemoteSymbol is a symbol found by a Remote.
type RemoteSymbol struct {
	Symbol
	// Handle names the symbol in later calls: it stays valid across
	// restarts of the process (where Addr may change).
	Handle uint32
}

// Buffer is memory a call passes to the plugin: the address of a copy of
// Data (in the plugin's address space) goes in integer register Slot, and
// with Out the plugin's bytes come back into Data when the call returns.
// In process the plugin sees Data itself, pinned for the call.
type Buffer struct {
	Slot int
	Data []byte
	Out  bool
}

// Remote is one isolated plugin: a process that serves its calls.
type Remote interface {
	// Name is the plugin's name (its DT_SONAME or file name).
	Name() string
	// Lookup finds a symbol (Plugin.LookupVersion's rules), wrapping
	// ErrSymbolNotFound or ErrTLS as the in-process lookup does.
	Lookup(name, version string) (RemoteSymbol, error)
	// Call calls the function handle with the registers a and the
	// buffers bufs. ctx may be nil. A fault of the plugin is a
	// *pcall.FaultError; a panic of a host function a
	// *pcall.HostPanicError; the death of the process, a forbidden
	// system call or a deadline are the Isolation's own typed errors.
	// The registers are passed by value so that no caller's memory
	// escapes: an in-process call through the same paths allocates
	// nothing.
	Call(ctx context.Context, handle uint32, a pcall.Args, bufs []Buffer) (pcall.Result, error)
	// CallInts is Call for n integer arguments only, with no buffer.
	CallInts(handle uint32, ints [6]uint64, n int) (pcall.Result, error)
	// CallFrame makes a general call (stack arguments, structs by value,
	// variadic, a result in memory, pointers to Go memory, callbacks):
	// fr holds the frame as the signature's plan laid it out (see
	// RemoteFrame). It fails as Call does.
	CallFrame(ctx context.Context, handle uint32, fr *RemoteFrame) (pcall.FrameResult, error)
	// InHostCall reports whether the calling goroutine is running a host
	// function or callback for a call into this plugin (nested in that
	// call): Plugin.Close and Restart then refuse, as waiting for the
	// call would never end.
	InHostCall() bool
	// ReadMemory copies the process's memory at addr into dst, up to
	// its first NUL byte (included) when toNUL, and returns the bytes
	// copied; memory it cannot read is an error wrapping ErrBadAddress,
	// and the process goes on.
	ReadMemory(addr uint64, dst []byte, toNUL bool) (int, error)
	// WriteMemory copies src to the process's memory at addr; memory it
	// cannot write is an error wrapping ErrBadAddress.
	WriteMemory(addr uint64, src []byte) error
	// Restart replaces the process by a fresh one with the plugin
	// loaded again and every handle looked up again.
	Restart() error
	// AutoRestart reports whether a failed plugin may be restarted now
	// by the restart policy (and counts the restart when it says yes).
	AutoRestart() bool
	// Close ends the process: with destructors when graceful, else at
	// once. It is called once, with no call in flight.
	Close(graceful bool) error
}

// errNotIsolated is returned (wrapped) by Plugin.Restart for a plugin that
// runs in the host's own address space. It wraps ErrUnsupported.
var errNotIsolated = errs.Unsupported("plugin is not isolated")

// startRemote loads a plugin through the Isolation: path or image.
func (l *Loader) startRemote(path, name string, image []byte) (*Plugin, error) {
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("loader: load %s: %w", name, ErrClosed)
	}
	if strings.ContainsRune(path, '/') { // a bare name is searched for, in the child as here
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	req := &RemoteLoad{Path: path, Name: name, Image: image, Options: l.opts, Logger: l.log}
	req.Options.Logger, req.Options.HostSymbols, req.Options.Isolation = nil, nil, nil
	if len(l.opts.HostSymbols) > 0 {
		return nil, fmt.Errorf("loader: load %s: Options.HostSymbols are addresses in the host, which an isolated plugin cannot reach (register host functions instead): %w", name, errNotIsolated)
	}
	req.HostFuncs = l.host.remoteFuncs()
	r, err := l.opts.Isolation.Start(req)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		r.Close(false)
		return nil, fmt.Errorf("loader: load %s: %w", name, ErrClosed)
	}
	o := &object{l: l, name: r.Name(), path: path}
	pl := newPlugin(l, o, nil)
	pl.remote = r
	l.plugins[pl] = struct{}{}
	pl.log.Debug("loaded isolated plugin", "plugin", o.name, "path", path)
	return pl, nil
}

// remoteFuncs lists the registered host functions for an isolated load.
func (t *hostTable) remoteFuncs() []RemoteHostFunc {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]RemoteHostFunc, 0, len(t.fns))
	for _, h := range t.fns {
		f := RemoteHostFunc{Name: h.name, Strings: h.strs, Call: h.raw,
			Frame: h.frame.fn, StackSize: h.frame.stack, SRetSize: h.frame.sret} // remote_frame.go
		if f.Call == nil && f.Frame == nil {
			err := fmt.Errorf("loader: host function %s: %w", h.name, errHostFuncNotRemote)
			f.Call = func(*pcall.Args) pcall.Result { panic(err) }
		}
		out = append(out, f)
	}
	return out
}

// remoteState is the part of a Plugin that only isolated plugins use.
type remoteState struct {
	remote Remote
	// rmu is held (read) by every remote call and lookup; Close and
	// Restart take it to wait for them.
	rmu sync.RWMutex
}

// Isolated reports whether the plugin runs in another process.
func (p *Plugin) Isolated() bool { return p.remote != nil }

// Remote returns the handle an isolated plugin calls through (nil for a
// plugin in the host's address space).
func (p *Plugin) Remote() Remote { return p.remote }

// Restart restarts an isolated plugin: its process is replaced by a fresh
// one, the plugin is loaded again and the quarantine is lifted. Funcs and
// bindings obtained before keep working. It waits for the calls in
// flight. For a plugin in the host's address space it returns
// errNotIsolated; from a host function or callback that a call into this
// plugin is running (on this goroutine), whose call it would wait for
// forever, an error wrapping pcall.ErrCloseInCall. A ctx already done
// stops it before it starts; a nil ctx panics.
func (p *Plugin) Restart(ctx context.Context) error {
	mustContext(ctx)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("loader: restart %s: %w", p.obj.name, err)
	}
	if p.remote == nil {
		return fmt.Errorf("loader: restart %s: %w", p.obj.name, errNotIsolated)
	}
	if p.remote.InHostCall() {
		return fmt.Errorf("loader: restart %s from its own host call: %w", p.obj.name, pcall.ErrCloseInCall)
	}
	p.rmu.Lock()
	defer p.rmu.Unlock()
	return p.restartLocked()
}

func (p *Plugin) restartLocked() error {
	if p.flags.Load()&stClosing != 0 {
		return fmt.Errorf("loader: restart %s: %w", p.obj.name, ErrClosed)
	}
	if err := p.remote.Restart(); err != nil {
		return fmt.Errorf("loader: restart %s: %w", p.obj.name, err)
	}
	p.flags.And(^uint32(stQuarantined))
	p.log.Info("restarted isolated plugin", "plugin", p.obj.name)
	return nil
}

// remoteLookup is LookupVersion of an isolated plugin.
func (p *Plugin) remoteLookup(name, version string) (RemoteSymbol, error) {
	p.rmu.RLock()
	defer p.rmu.RUnlock()
	if p.flags.Load()&stClosing != 0 {
		return RemoteSymbol{}, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrClosed)
	}
	if p.flags.Load()&stQuarantined != 0 {
		// A failed process may be dead: restart it if the policy says so.
		f := &Func{name: name}
		if err := p.remoteEnter(f); err != nil && !errors.Is(err, ErrQuarantined) {
			return RemoteSymbol{}, err
		}
	}
	s, err := p.remote.Lookup(name, version)
	if err != nil {
		return RemoteSymbol{}, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, err)
	}
	return s, nil
}

// remoteFunc is Plugin.Func of an isolated plugin.
func (p *Plugin) remoteFunc(name string) (*Func, error) {
	s, err := p.remoteLookup(name, "")
	if err != nil {
		return nil, err
	}
	if !s.Func {
		return nil, fmt.Errorf("loader: %s in %s is data, not a function: %w", name, p.obj.name, ErrSymbolNotFound)
	}
	return &Func{p: p, name: name, addr: s.Addr, handle: s.Handle}, nil
}

// remoteEnter checks the flags before a remote call, restarting a
// quarantined plugin when the policy allows. p.rmu is held (read); it
// may be released and taken again around the restart.
func (p *Plugin) remoteEnter(f *Func) error {
	n := p.flags.Load()
	if n == 0 {
		return nil
	}
	if n&stClosing == 0 && p.remote.AutoRestart() {
		p.rmu.RUnlock()
		p.rmu.Lock()
		var err error
		if p.flags.Load()&stQuarantined != 0 { // not restarted meanwhile
			err = p.restartLocked()
		}
		p.rmu.Unlock()
		p.rmu.RLock()
		if err != nil {
			return fmt.Errorf("loader: call %s in %s: %w", f.name, p.obj.name, err)
		}
		if n = p.flags.Load(); n == 0 {
			return nil
		}
	}
	return p.refused(f, n)
}

// remoteCall is every call path of an isolated plugin. ints is used when
// a is nil.
func (p *Plugin) remoteCall(ctx context.Context, f *Func, a *pcall.Args, ints []uint64, bufs []Buffer) (pcall.Result, error) {
	if nLive.Load() != 0 {
		// A Callback's address among the integers: the plugin gets an
		// entry in its own process instead (remote_frame.go).
		regs := ints
		if a != nil {
			regs = a.Int[:]
		}
		if cbs := callbackWords(regs); cbs != nil {
			r, err := p.remoteFrameCall(ctx, f, registerFrame(a, ints, bufs, cbs))
			return pcall.Result{Int: r.RAX, Float: math.Float64frombits(r.XMM0)}, err
		}
	}
	p.rmu.RLock()
	defer p.rmu.RUnlock()
	if err := p.remoteEnter(f); err != nil {
		return pcall.Result{}, err
	}
	var r pcall.Result
	var err error
	if a == nil && ctx != nil && ctx.Done() != nil {
		// Only Call with an Args bounds the round trip by ctx.
		a = new(pcall.Args)
		copy(a.Int[:], ints)
	}
	if a == nil {
		var regs [6]uint64
		n := copy(regs[:], ints)
		r, err = p.remote.CallInts(f.handle, regs, n)
	} else {
		r, err = p.remote.Call(ctx, f.handle, *a, bufs)
	}
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

// remoteClose ends an isolated plugin's process (Plugin.close): it waits
// for the calls in flight; the destructors run in the process unless the
// plugin is quarantined.
func (p *Plugin) remoteClose() error {
	p.rmu.Lock()
	err := p.remote.Close(p.flags.Load()&stQuarantined == 0)
	p.rmu.Unlock()
	l := p.l
	l.mu.Lock()
	delete(l.plugins, p)
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("loader: close %s: %w", p.obj.name, err)
	}
	return nil
}

// callBuffers calls the function with the argument registers of a (nil:
// all zero), after putting the address of each buffer's bytes in its
// integer register (see Buffer). ctx may be nil (no deadline). It works
// the same for plugins in the host and in another process: in the host the
// plugin reads and writes Data in place (pinned for the call), isolated it
// works on a copy in memory both processes share, and Out buffers are
// copied back.
func (f *Func) callBuffers(ctx context.Context, a *pcall.Args, bufs ...Buffer) (pcall.Result, error) {
	var regs pcall.Args
	if a != nil {
		regs = *a
	}
	if len(bufs) > 6 {
		return pcall.Result{}, fmt.Errorf("loader: call %s: %d buffers, at most 6 (one per integer register)", f.name, len(bufs))
	}
	for _, b := range bufs {
		if b.Slot < 0 || b.Slot >= 6 {
			return pcall.Result{}, fmt.Errorf("loader: call %s: buffer register %d, want 0-5", f.name, b.Slot)
		}
	}
	if f.p.remote != nil {
		return f.p.remoteCall(ctx, f, &regs, nil, bufs)
	}
	return f.callPinned(ctx, &regs, bufs)
}

// remoteBindCall is binding.call for an isolated plugin: the string
// arguments' copies travel as buffers.
func (b *binding) remoteCall(ctx context.Context, a *pcall.Args, ks *cstrings) (pcall.Result, error) {
	var bufs []Buffer
	if ks != nil {
		j := 0
		for i := 0; i < b.sig.n; i++ {
			if b.sig.kinds[i] == kString && j < ks.n {
				bufs = append(bufs, Buffer{Slot: int(b.sig.slots[i]), Data: ks.bufs[j]})
				j++
			}
		}
		ks.pin.Unpin()
	}
	if bufs == nil && b.sig.nFloat == 0 && !b.sig.res.isFloat() { // CallInts brings back rax only
		return b.f.p.remoteCall(ctx, b.f, nil, a.Int[:b.sig.nInt], nil)
	}
	return b.f.p.remoteCall(ctx, b.f, a, nil, bufs)
}

// hostStringSlots returns the integer registers that carry C strings for
// a typed host function fn (none for a RawHostFunc).
func hostStringSlots(fn any) uint8 {
	if _, ok := fn.(RawHostFunc); ok {
		return 0
	}
	ft := reflect.TypeOf(fn)
	if ft == nil || ft.Kind() != reflect.Func {
		return 0
	}
	var mask uint8
	nInt := 0
	for i := 0; i < ft.NumIn(); i++ {
		k, _ := kindOf(ft.In(i), true)
		if k.isFloat() {
			continue
		}
		if k == kString && nInt < 6 {
			mask |= 1 << nInt
		}
		nInt++
	}
	return mask
}

// orZero returns a, or zero registers for nil.
func orZero(a *pcall.Args) *pcall.Args {
	if a == nil {
		return new(pcall.Args)
	}
	return a
}

// rawForm returns h as a RawHostFunc (an isolated plugin's host calls
// arrive as registers in an Args).
func (h hostFn) rawForm() RawHostFunc {
	if h.regs == nil {
		return h.raw
	}
	fn := h.regs
	return func(a *pcall.Args) pcall.Result {
		i, f := a.Int, a.Float
		r, x := fn(i[0], i[1], i[2], i[3], i[4], i[5], 0, 0, 0, f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
		return pcall.Result{Int: r, Float: x}
	}
}
