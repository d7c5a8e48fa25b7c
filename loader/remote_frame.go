package loader

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/callconv"
	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
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

// liveCallbacks maps the address of every live Callback to its
// RemoteCallback, for the calls into isolated plugins that pass it;
// nLive counts them, so that calls skip the lookup when there are none.
var (
	liveCallbacks sync.Map // uintptr -> *wire.RemoteCallback
	nLive         atomic.Int32
	// liveLo and liveHi bound every address ever registered (callback
	// entries share a few executable pages): most integers are outside,
	// and skip the map.
	liveLo, liveHi atomic.Uint64
)

// newRemoteCallback records c (made from hf, the form of fn) for isolated
// plugins. (Hook of NewCallback.)
func newRemoteCallback(c *Callback, name string, hf hostFn, fn any) *wire.RemoteCallback {
	rc := &wire.RemoteCallback{RemoteHostFunc: wire.RemoteHostFunc{Name: name}, Addr: c.Ptr(), OnPanic: c.cb.ReportPanic}
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
	if err != nil || plan.StackSize > pcall.MaxFrameStack || plan.Result.Type.Size() > pcall.MaxFrameSRet || hasByRef(plan) {
		return nil
	}
	return plan
}

// hasByRef reports whether plan passes a value by reference (arm64: a
// composite larger than 16 bytes): the address of the caller's copy,
// which lies in the plugin's process.
func hasByRef(plan *callconv.Plan) bool {
	return slices.ContainsFunc(plan.Args, func(a callconv.ArgLoc) bool { return a.ByRef })
}

// releaseRemote forgets rc and tells its watchers. (Hook of
// Callback.Release.)
func releaseRemote(rc *wire.RemoteCallback) {
	if rc == nil {
		return
	}
	if liveCallbacks.CompareAndDelete(rc.Addr, rc) {
		nLive.Add(-1)
	}
	rc.Release()
}

// callbackAt returns the live Callback at address v, or nil.
func callbackAt(v uint64) *wire.RemoteCallback {
	if nLive.Load() == 0 || v < liveLo.Load() || v > liveHi.Load() {
		return nil
	}
	if rc, ok := liveCallbacks.Load(uintptr(v)); ok {
		return rc.(*wire.RemoteCallback)
	}
	return nil
}

// errCallbackNotRemote is wrapped by the error of a call that passes an
// isolated plugin a Callback whose Go function cannot run for it: one of
// the general form (stack arguments or structs by value) with a string
// argument, or a variadic one (*VarArgs), whose arguments are memory of
// the plugin's process.
var errCallbackNotRemote = errs.Unsupported("a callback of the general form with a string argument, a variadic one, or one with a struct passed by reference (arm64), cannot be passed to an isolated plugin")

// errHostFuncNotRemote is wrapped by the *pcall.HostPanicError of a call
// an isolated plugin makes to a host function of the general form with a
// string argument, or a variadic one, which cannot cross (see
// errCallbackNotRemote).
var errHostFuncNotRemote = errs.Unsupported("a host function of the general form with a string argument, a variadic one, or one with a struct passed by reference (arm64), cannot be called by an isolated plugin")

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
	return f.p.be.callFrame(ctx, f, fr)
}

// callbackWords returns the Callbacks among the integer registers ints
// (the register call paths), or nil.
func callbackWords(ints []uint64) []wire.FrameCallback {
	if nLive.Load() == 0 {
		return nil
	}
	var out []wire.FrameCallback
	for i, v := range ints {
		if rc := callbackAt(v); rc != nil {
			out = append(out, wire.FrameCallback{Word: i, CB: rc})
		}
	}
	return out
}

// registerFrame is a register call as a RemoteFrame, for a register call
// that passes callbacks.
func registerFrame(a *pcall.Args, bufs []wire.Buffer, cbs []wire.FrameCallback) *wire.RemoteFrame {
	fr := &wire.RemoteFrame{NVec: 8, Callbacks: cbs}
	copy(fr.Regs[:6], a.Int[:])
	for i, x := range a.Float {
		fr.Regs[6+i] = math.Float64bits(x)
	}
	for _, b := range bufs {
		fr.Bufs = append(fr.Bufs, wire.FrameBuffer{Word: b.Slot, Data: b.Data, Out: b.Out})
	}
	return fr
}
