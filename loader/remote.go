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

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// Isolated plugins.
//
// A Loader whose Options.Isolation is set loads every plugin in another
// process (see package isolate) instead of its own address space. The
// Plugin, Func and typed bindings are the same; their calls reach the
// Plugin's backend, here remote, which makes them through the
// Isolation's wire.Remote, so the bindings built on them need not know
// where the plugin runs. loader never imports isolate: it only knows
// internal/wire's interfaces.

// errNotIsolated is returned (wrapped) by Plugin.Restart for a plugin that
// runs in the host's own address space. It wraps ErrUnsupported.
var errNotIsolated = errs.Unsupported("plugin is not isolated")

// startRemote loads a plugin through the Isolation: path or image, with
// its persistent state from st (state_remote.go); behind, while another
// version serves (wire.RemoteLoad.Background).
func (l *Loader) startRemote(ctx context.Context, path, name string, image []byte, st stateSource, behind bool) (*Plugin, error) {
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
	} else if found, ok := l.searchStateful(path); ok {
		// The host plans the state of the file the search finds, and
		// the child loads that file.
		path = found
	}
	req := &wire.RemoteLoad{Path: path, Name: name, Image: image, Options: wire.ChildOptionsOf(l.opts), Logger: l.log, Background: behind}
	if l.hasHostSymbols() {
		return nil, fmt.Errorf("loader: load %s: Options.HostSymbols are addresses in the host, which an isolated plugin cannot reach (register host functions instead): %w", name, errs.ErrUnsupported)
	}
	req.HostFuncs = l.host.remoteFuncs()
	if wire.StartRemote == nil { // an Isolation from elsewhere than package isolate
		return nil, fmt.Errorf("loader: load %s: Options.Isolation is %T, not an isolate.Isolator: %w", name, l.opts.Isolation, errs.ErrUnsupported)
	}
	// The file's identity as the child is about to load it: a Live
	// keeps a descriptor of the file only while it still has this one
	// (live_handover.go keepBuild).
	var key fileKey
	var fst unix.Stat_t
	if path != "" && unix.Stat(path, &fst) == nil {
		key = statKey(&fst)
	}
	rs, err := l.planRemoteState(path, name, image, st)
	if err != nil {
		return nil, fmt.Errorf("loader: load %s: %w", name, err)
	}
	if rs != nil {
		req.State = rs.req
	}
	r, err := wire.StartRemote(ctx, l.opts.Isolation, req)
	if err != nil {
		if rs != nil {
			err = rs.failed(err)
		}
		return nil, err
	}
	o := &object{l: l, name: r.Name(), path: path, key: key}
	if rs != nil {
		if err := rs.finish(o, r); err != nil {
			r.Close(context.Background(), false)
			return nil, fmt.Errorf("loader: load %s: %w", name, err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		r.Close(context.Background(), false)
		o.closeState(false)
		return nil, fmt.Errorf("loader: load %s: %w", name, ErrClosed)
	}
	pl := newPlugin(l, o, nil)
	pl.be = &remote{p: pl, r: r}
	l.plugins[pl] = struct{}{}
	pl.log.Debug("loaded isolated plugin", "plugin", o.name, "path", path)
	return pl, nil
}

// remoteFuncs lists the registered host functions for an isolated load.
func (t *hostTable) remoteFuncs() []wire.RemoteHostFunc {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]wire.RemoteHostFunc, 0, len(t.fns))
	for _, h := range t.fns {
		f := wire.RemoteHostFunc{Name: h.name, Strings: h.strs, Call: h.raw,
			Frame: h.frame.fn, StackSize: h.frame.stack, SRetSize: h.frame.sret} // remote_frame.go
		if f.Call == nil && f.Frame == nil {
			err := fmt.Errorf("loader: host function %s: %w", h.name, errHostFuncNotRemote)
			f.Call = func(*pcall.Args) pcall.Result { panic(err) }
		}
		out = append(out, f)
	}
	return out
}

// remote is the backend of an isolated plugin: a child process, reached
// through the Isolation's Remote.
type remote struct {
	p *Plugin
	r wire.Remote
	// mu is held (read) by every remote call, lookup and memory access;
	// Close and Restart take it to wait for them.
	mu sync.RWMutex
}

func init() {
	wire.RemoteOf = func(plugin any) wire.Remote {
		if p, ok := plugin.(*Plugin); ok {
			if b, ok := p.be.(*remote); ok {
				return b.r
			}
		}
		return nil
	}
}

// Isolated reports whether the plugin runs in another process.
func (p *Plugin) Isolated() bool { return p.be.isolated() }

// Restart restarts an isolated plugin: its process is replaced by a fresh
// one, the plugin is loaded again and the quarantine is lifted. Funcs and
// bindings obtained before keep working. It waits for the calls in
// flight. For a plugin in the host's address space it returns an error
// wrapping ErrUnsupported; from a host function or callback that a call
// into this plugin is running (on this goroutine), whose call it would wait for
// forever, an error wrapping pcall.ErrCloseInCall. A ctx already done
// stops it before it starts; a nil ctx panics.
func (p *Plugin) Restart(ctx context.Context) error {
	mustContext(ctx)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("loader: restart %s: %w", p.obj.name, err)
	}
	return p.be.restart(ctx)
}

func (b *remote) isolated() bool { return true }

func (b *remote) restart(ctx context.Context) error {
	p := b.p
	if b.r.InHostCall() {
		return fmt.Errorf("loader: restart %s from its own host call: %w", p.obj.name, pcall.ErrCloseInCall)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.restartLocked(ctx)
}

func (b *remote) restartLocked(ctx context.Context) error {
	p := b.p
	if p.flags.Load()&stClosing != 0 {
		return fmt.Errorf("loader: restart %s: %w", p.obj.name, ErrClosed)
	}
	if err := b.r.Restart(ctx); err != nil {
		return fmt.Errorf("loader: restart %s: %w", p.obj.name, err)
	}
	if err := b.restateAddr(); err != nil {
		return fmt.Errorf("loader: restart %s: %w", p.obj.name, err)
	}
	p.flags.And(^uint32(stQuarantined))
	p.log.Info("restarted isolated plugin", "plugin", p.obj.name)
	return nil
}

// lookup asks the child (Plugin.LookupVersion).
func (b *remote) lookup(name, version string) (Symbol, uint32, error) {
	p := b.p
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.enterLookup(name); err != nil {
		return Symbol{}, 0, err
	}
	s, err := b.r.Lookup(name, version)
	if err != nil {
		return Symbol{}, 0, fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, err)
	}
	return Symbol{Name: s.Name, Addr: uintptr(s.Addr), Size: s.Size, Func: s.Func, Version: s.Version}, s.Handle, nil
}

// enterLookup is enter for a lookup: a closed plugin refuses, a
// quarantined one is restarted when the policy allows (its process may be
// dead) and is looked into all the same when not. b.mu is held (read).
func (b *remote) enterLookup(name string) error {
	p := b.p
	n := p.flags.Load()
	if n&stClosing != 0 {
		return fmt.Errorf("loader: lookup %q in %s: %w", name, p.obj.name, ErrClosed)
	}
	if n&stQuarantined != 0 {
		if err := b.enter(context.Background(), &Func{name: name}); err != nil && !errors.Is(err, ErrQuarantined) {
			return err
		}
	}
	return nil
}

// symbols asks the child (Plugin.Symbols).
func (b *remote) symbols() ([]Symbol, error) {
	p := b.p
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.enterLookup("*"); err != nil {
		return nil, err
	}
	rs, err := b.r.Symbols()
	if err != nil {
		return nil, fmt.Errorf("loader: symbols of %s: %w", p.obj.name, err)
	}
	out := make([]Symbol, len(rs))
	for i, s := range rs {
		out[i] = Symbol{Name: s.Name, Addr: uintptr(s.Addr), Size: s.Size, Func: s.Func, Version: s.Version}
	}
	return out, nil
}

// enter checks the flags before a remote call, restarting a quarantined
// plugin when the policy allows. b.mu is held (read); it may be released
// and taken again around the restart.
// ctx bounds a restart's start (context.Background for the paths whose
// caller gave no deadline: the integer call and lookups).
func (b *remote) enter(ctx context.Context, f *Func) error {
	if ctx == nil { // the isolated child's raw calls: no deadline
		ctx = context.Background()
	}
	p := b.p
	n := p.flags.Load()
	if n == 0 {
		return nil
	}
	if n&stClosing == 0 && b.r.AutoRestart() {
		b.mu.RUnlock()
		b.mu.Lock()
		var err error
		if p.flags.Load()&stQuarantined != 0 { // not restarted meanwhile
			err = b.restartLocked(ctx)
		}
		b.mu.Unlock()
		b.mu.RLock()
		if err != nil {
			return fmt.Errorf("loader: call %s in %s: %w", f.name, p.obj.name, err)
		}
		if n = p.flags.Load(); n == 0 {
			return nil
		}
	}
	return p.refused(f, n)
}

func (b *remote) callInts(f *Func, n int, a0, a1, a2, a3, a4, a5 uint64) (pcall.Result, error) {
	ints := [6]uint64{a0, a1, a2, a3, a4, a5}
	if nLive.Load() != 0 {
		// A Callback's address among the integers: the plugin gets an
		// entry in its own process instead (remote_frame.go).
		if cbs := callbackWords(ints[:n]); cbs != nil {
			var a pcall.Args
			copy(a.Int[:], ints[:n])
			return b.frameRegs(nil, f, &a, nil, cbs)
		}
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.enter(context.Background(), f); err != nil {
		return pcall.Result{}, err
	}
	r, err := b.r.CallInts(f.handle, ints, n)
	if err != nil {
		return r, b.p.callFailed(f, err)
	}
	return r, nil
}

func (b *remote) callRegs(f *Func, i0, i1, i2, i3, i4, i5 uint64, x0, x1, x2, x3, x4, x5, x6, x7 float64) (pcall.Result, error) {
	a := pcall.Args{Int: [6]uint64{i0, i1, i2, i3, i4, i5}, Float: [8]float64{x0, x1, x2, x3, x4, x5, x6, x7}}
	return b.call(nil, f, a, nil)
}

func (b *remote) call(ctx context.Context, f *Func, a pcall.Args, bufs []wire.Buffer) (pcall.Result, error) {
	if nLive.Load() != 0 {
		if cbs := callbackWords(a.Int[:]); cbs != nil {
			return b.frameRegs(ctx, f, &a, bufs, cbs)
		}
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.enter(ctx, f); err != nil {
		return pcall.Result{}, err
	}
	r, err := b.r.Call(ctx, f.handle, a, bufs)
	if err != nil {
		return r, b.p.callFailed(f, err)
	}
	return r, nil
}

// frameRegs is a register call that passes Callbacks, made as a general
// call (the child makes an entry for each).
func (b *remote) frameRegs(ctx context.Context, f *Func, a *pcall.Args, bufs []wire.Buffer, cbs []wire.FrameCallback) (pcall.Result, error) {
	r, err := b.callRemoteFrame(ctx, f, registerFrame(a, bufs, cbs))
	return pcall.Result{Int: r.RAX, Float: math.Float64frombits(r.XMM0)}, err
}

func (b *remote) callFrame(ctx context.Context, f *Func, fr *pcall.Frame) (pcall.FrameResult, error) {
	return pcall.FrameResult{}, fmt.Errorf("loader: call %s in %s: CallFrame of an isolated plugin: %w", f.name, b.p.obj.name, ErrUnsupported)
}

// callRemoteFrame is every general call of an isolated plugin.
func (b *remote) callRemoteFrame(ctx context.Context, f *Func, fr *wire.RemoteFrame) (pcall.FrameResult, error) {
	p := b.p
	b.mu.RLock()
	defer b.mu.RUnlock()
	if err := b.enter(ctx, f); err != nil {
		return pcall.FrameResult{}, err
	}
	for _, c := range fr.Callbacks {
		if c.CB.Call == nil && c.CB.Frame == nil {
			return pcall.FrameResult{}, fmt.Errorf("loader: call %s in %s: callback %s: %w", f.name, p.obj.name, c.CB.Name, errCallbackNotRemote)
		}
	}
	r, err := b.r.CallFrame(ctx, f.handle, fr)
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

func (b *remote) inHostCall() bool { return b.r.InHostCall() }

// funcAt asks the child for a handle of the function at addr in its
// process (Plugin.FuncAt).
func (b *remote) funcAt(addr uintptr) (uint32, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	name := fmt.Sprintf("func@%#x", addr)
	if err := b.enterLookup(name); err != nil {
		return 0, err
	}
	return b.r.FuncAt(uint64(addr))
}

// close ends the child (Plugin.close): it waits for the calls in flight;
// the destructors run in the child unless the plugin is quarantined. The
// lock is only taken to wait for those calls: once stClosing is set and
// they are done, every later call, lookup, memory access and restart
// refuses before it reaches b.r, so the child's destructors run with no
// lock held and a call racing a Live's swap is refused at once (and made
// again on the new version) rather than waiting for them.
func (b *remote) close(ctx context.Context) error {
	p := b.p
	p.flags.Or(stClosing)
	// The wait for calls in flight, bounded by ctx: when ctx is done
	// first, the child is killed, which ends them (with its exit error).
	stop := context.AfterFunc(ctx, func() { b.r.Kill("close: " + ctx.Err().Error()) })
	b.mu.Lock()
	b.mu.Unlock() // nothing inside: the Lock was the wait
	var killed error
	if !stop() {
		killed = &pcall.DeadlineError{Plugin: p.obj.name, Cause: ctx.Err()}
	}
	err := b.r.Close(ctx, killed == nil && p.flags.Load()&stQuarantined == 0)
	err = errors.Join(killed, err)
	// The child has run the destructors and exited: the host syncs
	// the state (the child may not) and unmaps its view.
	err = errors.Join(err, p.obj.closeState(false))
	l := p.l
	l.mu.Lock()
	delete(l.plugins, p)
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("loader: close %s: %w", p.obj.name, err)
	}
	return nil
}

// remoteBindCall is binding.call for an isolated plugin: the string
// arguments' copies travel as buffers.
func (b *binding) remoteCall(ctx context.Context, a *pcall.Args, ks *cstrings) (pcall.Result, error) {
	var bufs []wire.Buffer
	if ks != nil {
		j := 0
		for i := 0; i < b.sig.n; i++ {
			if b.sig.kinds[i] == kString && j < ks.n {
				bufs = append(bufs, wire.Buffer{Slot: int(b.sig.slots[i]), Data: ks.bufs[j]})
				j++
			}
		}
		ks.pin.Unpin()
	}
	p := b.f.p
	// CallInts brings back rax only, and only Call bounds the round trip
	// by ctx.
	if bufs == nil && b.sig.nFloat == 0 && !b.sig.res.isFloat() && ctx.Done() == nil {
		i := &a.Int
		return p.be.callInts(b.f, int(b.sig.nInt), i[0], i[1], i[2], i[3], i[4], i[5])
	}
	return p.be.call(ctx, b.f, *a, bufs)
}

// hostStringSlots returns the integer registers that carry C strings for
// a typed host function fn (none for a RawHostFunc).
func hostStringSlots(fn any) uint8 {
	if _, ok := fn.(wire.RawHostFunc); ok {
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

// argsOf returns *a, or zero registers for nil.
func argsOf(a *pcall.Args) pcall.Args {
	if a == nil {
		return pcall.Args{}
	}
	return *a
}

// rawForm returns h as a RawHostFunc (an isolated plugin's host calls
// arrive as registers in an Args).
func (h hostFn) rawForm() wire.RawHostFunc {
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
