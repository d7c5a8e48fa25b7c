package loader

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/pcall"
)

// General calls and callbacks across the process boundary.
//
// A general call into an isolated plugin is planned exactly as in process
// (the signature's abi plan, compiled to the trampoline's moves); the host
// then runs those moves itself, in Go, to lay out the register and stack
// words, and the other process makes the call from that frame with the
// same trampoline (Func.callFrame, through internal/rawcall). Go memory a call passes by address (a
// string, a slice or *T given to CallSig, a string argument of a binding)
// travels as a FrameBuffer: a copy in the memory both processes share,
// whose address there replaces the word, and which comes back when Out. A
// Callback's Ptr in a pointer word travels as a FrameCallback: the other
// process makes an entry of its own that forwards each call back to the
// host's Go function. Any other address (uintptr, unsafe.Pointer) crosses
// unchanged: it is an address in the plugin's process (one a call
// returned), never host memory.

// RemoteFrame is a general call of an isolated plugin.
type RemoteFrame struct {
	// Regs are the argument registers: rdi..r9, then the bits of
	// xmm0..xmm7 (the first pcall.GatherRegs frame words).
	Regs [pcall.GatherRegs]uint64
	// Stack holds the stack argument words (frame words GatherRegs on).
	Stack []uint64
	// NVec is al at the call (the vector registers used, for a variadic
	// callee).
	NVec uint8
	// SRet, when not nil, receives a result of class MEMORY (its length
	// is the result's size).
	SRet []byte
	// Bufs are Go memory passed by address.
	Bufs []FrameBuffer
	// Callbacks are Callbacks passed as function pointers.
	Callbacks []FrameCallback
}

// FrameBuffer is Go memory a general call passes by address: the address
// of a copy of Data in the plugin's process goes in frame word Word (0-5:
// an integer register; pcall.GatherRegs on: a stack word), and with Out
// the plugin's bytes come back into Data after the call.
type FrameBuffer struct {
	Word int
	Data []byte
	Out  bool
}

// FrameCallback is a Callback passed as a C function pointer in frame
// word Word: the word is replaced by the address of an entry in the
// plugin's process that calls CB.
type FrameCallback struct {
	Word int
	CB   *RemoteCallback
}

// RemoteCallback is a Callback as an isolated plugin reaches it: a Go
// function called with registers, like a RemoteHostFunc. The Isolation
// makes an entry for it in the plugin's process when a call first passes
// it, and drops that entry when the Callback is released (Watch).
type RemoteCallback struct {
	// RemoteHostFunc is the function as a host function's: its name, the
	// string registers, Call for a register signature or Frame (with its
	// stack and result sizes) for the general form; Call and Frame are
	// both nil when the signature cannot cross (a string argument of the
	// general form).
	RemoteHostFunc
	// Addr is the Callback's address in the host (its Ptr).
	Addr uintptr

	cb       *Callback
	mu       sync.Mutex
	released bool
	watchers map[any]func()
}

// ReportPanic hands e, the panic of a call made outside any call from the
// host (on a thread the plugin created), to the Callback's panic handler
// and Err, as a call in process outside any protected call does.
func (c *RemoteCallback) ReportPanic(e *pcall.HostPanicError) {
	if c.cb != nil {
		c.cb.cb.ReportPanic(e)
	}
}

// Watch makes fn run (once, on the releasing goroutine) when the Callback
// is released; key names the watcher for Unwatch. It returns false, and
// does not keep fn, when the Callback is already released.
func (c *RemoteCallback) Watch(key any, fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return false
	}
	if c.watchers == nil {
		c.watchers = map[any]func(){}
	}
	c.watchers[key] = fn
	return true
}

// Unwatch forgets the watcher key.
func (c *RemoteCallback) Unwatch(key any) {
	c.mu.Lock()
	delete(c.watchers, key)
	c.mu.Unlock()
}

// Released reports whether the Callback was released.
func (c *RemoteCallback) Released() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.released
}

// liveCallbacks maps the address of every live Callback to its
// RemoteCallback, for the calls into isolated plugins that pass it;
// nLive counts them, so that calls skip the lookup when there are none.
var (
	liveCallbacks sync.Map // uintptr -> *RemoteCallback
	nLive         atomic.Int32
	// liveLo and liveHi bound every address ever registered (callback
	// entries share a few executable pages): most integers are outside,
	// and skip the map.
	liveLo, liveHi atomic.Uint64
)

// newRemoteCallback records c (made from hf, the form of fn) for isolated
// plugins. (Hook of NewCallback.)
func newRemoteCallback(c *Callback, name string, hf hostFn, fn any) *RemoteCallback {
	rc := &RemoteCallback{RemoteHostFunc: RemoteHostFunc{Name: name}, Addr: c.Ptr(), cb: c}
	if hf.frame == nil {
		rc.Call, rc.Strings = hf.rawForm(), hostStringSlots(fn)
	} else {
		f := frameForm(hf, fn)
		rc.Frame, rc.StackSize, rc.SRetSize = f.fn, f.stack, f.sret
	}
	liveCallbacks.Store(rc.Addr, rc)
	for a := uint64(rc.Addr); ; {
		lo := liveLo.Load()
		if lo != 0 && lo <= a || liveLo.CompareAndSwap(lo, a) {
			break
		}
	}
	for a := uint64(rc.Addr); ; {
		hi := liveHi.Load()
		if hi >= a || liveHi.CompareAndSwap(hi, a) {
			break
		}
	}
	nLive.Add(1)
	return rc
}

// remoteFrame is the general form of a host function or callback as an
// isolated plugin reaches it (see RemoteCallback.Frame).
type remoteFrame struct {
	fn          pcall.FrameFunc
	stack, sret uint32
}

// frameForm returns the general form of hf (made from fn), or none (a
// register form, or a general one that cannot cross).
func frameForm(hf hostFn, fn any) remoteFrame {
	if hf.frame == nil {
		return remoteFrame{}
	}
	plan := remotePlan(fn)
	if plan == nil {
		return remoteFrame{}
	}
	f := remoteFrame{fn: hf.frame, stack: uint32(plan.StackSize)}
	if plan.Result.InMemory {
		f.sret = uint32(plan.Result.Type.Size())
	}
	return f
}

// remotePlan returns the abi plan of a typed function of the general
// form (frameHostFunc's, made the same way), or nil when it has a string
// argument or a *VarArgs (pointers into the other process, which the Go
// function would read in the host) or cannot be planned.
func remotePlan(fn any) *callconv.Plan {
	ft := reflect.TypeOf(fn)
	if ft == nil || ft.Kind() != reflect.Func || ft.NumOut() > 1 {
		return nil
	}
	cargs := make([]*abi.Type, ft.NumIn())
	for i := range cargs {
		if ft.In(i).Kind() == reflect.String {
			return nil
		}
		t, err := callconv.TypeOf(ft.In(i))
		if err != nil {
			return nil
		}
		cargs[i] = t
	}
	cres := abi.Void
	if ft.NumOut() == 1 {
		t, err := callconv.TypeOf(ft.Out(0))
		if err != nil {
			return nil
		}
		cres = t
	}
	plan, err := callconv.NewPlan(cres, cargs...)
	if err != nil || plan.StackSize > pcall.MaxFrameStack || plan.Result.Type.Size() > pcall.MaxFrameSRet {
		return nil
	}
	return plan
}

// release forgets rc and tells its watchers. (Hook of Callback.Release.)
func (rc *RemoteCallback) release() {
	if rc == nil {
		return
	}
	rc.mu.Lock()
	if rc.released {
		rc.mu.Unlock()
		return
	}
	rc.released = true
	ws := rc.watchers
	rc.watchers = nil
	rc.mu.Unlock()
	if liveCallbacks.CompareAndDelete(rc.Addr, rc) {
		nLive.Add(-1)
	}
	for _, fn := range ws {
		fn()
	}
}

// callbackAt returns the live Callback at address v, or nil.
func callbackAt(v uint64) *RemoteCallback {
	if nLive.Load() == 0 || v < liveLo.Load() || v > liveHi.Load() {
		return nil
	}
	if rc, ok := liveCallbacks.Load(uintptr(v)); ok {
		return rc.(*RemoteCallback)
	}
	return nil
}

// errCallbackNotRemote is wrapped by the error of a call that passes an
// isolated plugin a Callback whose Go function cannot run for it: one of
// the general form (stack arguments or structs by value) with a string
// argument, or a variadic one (*VarArgs), whose arguments are memory of
// the plugin's process.
var errCallbackNotRemote = errs.Unsupported("a callback of the general form with a string argument, or a variadic one, cannot be passed to an isolated plugin")

// errHostFuncNotRemote is wrapped by the *pcall.HostPanicError of a call
// an isolated plugin makes to a host function of the general form with a
// string argument, or a variadic one, which cannot cross (see
// errCallbackNotRemote).
var errHostFuncNotRemote = errs.Unsupported("a host function of the general form with a string argument, or a variadic one, cannot be called by an isolated plugin")

// errX87Remote is the error of binding a long double result for an
// isolated plugin.
var errX87Remote = fmt.Errorf("a long double result (x87 st0) from an isolated plugin: %w", ErrUnsupported)

// callFrame calls f with the whole frame fr, through its plugin's gate,
// with the protection, quarantine and errors of every call; a nil ctx is
// no deadline. It is how an isolated plugin's process makes the general
// calls its host laid out (internal/rawcall); a host calls through a
// Signature or a typed binding instead.
func (f *Func) callFrame(ctx context.Context, fr *pcall.Frame) (pcall.FrameResult, error) {
	f = f.serving()
	p := f.p
	if p.remote != nil {
		return pcall.FrameResult{}, fmt.Errorf("loader: call %s in %s: a whole frame for an isolated plugin: %w", f.name, p.obj.name, ErrUnsupported)
	}
	if n := p.flags.Load(); n != 0 {
		return pcall.FrameResult{}, p.refused(f, n)
	}
	r, err := p.gate.CallFrame(ctx, f.addr, fr)
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

// remoteFrameCall is every general call of an isolated plugin.
func (p *Plugin) remoteFrameCall(ctx context.Context, f *Func, fr *RemoteFrame) (pcall.FrameResult, error) {
	p.rmu.RLock()
	defer p.rmu.RUnlock()
	if err := p.remoteEnter(f); err != nil {
		return pcall.FrameResult{}, err
	}
	for _, c := range fr.Callbacks {
		if c.CB.Call == nil && c.CB.Frame == nil {
			return pcall.FrameResult{}, fmt.Errorf("loader: call %s in %s: callback %s: %w", f.name, p.obj.name, c.CB.Name, errCallbackNotRemote)
		}
	}
	r, err := p.remote.CallFrame(ctx, f.handle, fr)
	if err != nil {
		return r, p.callFailed(f, err)
	}
	return r, nil
}

// remoteInHostCall reports whether p is isolated and the calling goroutine
// runs one of its host calls.
func (p *Plugin) remoteInHostCall() bool { return p.remote != nil && p.remote.InHostCall() }

// callbackWords returns the Callbacks among the integer registers ints
// (the register call paths), or nil.
func callbackWords(ints []uint64) []FrameCallback {
	if nLive.Load() == 0 {
		return nil
	}
	var out []FrameCallback
	for i, v := range ints {
		if rc := callbackAt(v); rc != nil {
			out = append(out, FrameCallback{Word: i, CB: rc})
		}
	}
	return out
}

// registerFrame is a register call as a RemoteFrame, for a register call
// that passes callbacks.
func registerFrame(a *pcall.Args, ints []uint64, bufs []Buffer, cbs []FrameCallback) *RemoteFrame {
	fr := &RemoteFrame{NVec: 8, Callbacks: cbs}
	if a != nil {
		copy(fr.Regs[:6], a.Int[:])
		for i, x := range a.Float {
			fr.Regs[6+i] = math.Float64bits(x)
		}
	} else {
		copy(fr.Regs[:6], ints)
	}
	for _, b := range bufs {
		fr.Bufs = append(fr.Bufs, FrameBuffer{Word: b.Slot, Data: b.Data, Out: b.Out})
	}
	return fr
}
