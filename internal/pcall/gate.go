package pcall

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// GateFallbackEnv names an environment variable: set to 1 when the
// package first installs its handlers, it makes every gated call use the
// fallback that runs where membarrier is unavailable (a test hook, so that
// a host's test suite can cover both; see GateFallback).
const GateFallbackEnv = "RUNPLUG_GATE_FALLBACK"

var (
	// ErrGateClosed is the error of a call through a Gate that was closed
	// before the call began: the function was not called.
	ErrGateClosed = errors.New("sandbox: gate closed")
	// ErrCloseInCall is returned by Gate.Close when the calling thread is
	// itself inside a call through the gate (a host function closing the
	// plugin it was called from): waiting would never end. The gate is
	// left open.
	ErrCloseInCall = errors.New("sandbox: close of a gate from a call through it")
)

// Gate lets a caller wait for the protected calls in progress through it,
// without an atomic read-modify-write on the call path: Close marks the
// gate closed, and returns only when no call through it is running on any
// thread; calls that begin after that return ErrGateClosed without calling
// their function. The loader gives each plugin one, so that Close can
// unmap a plugin's code knowing that no thread runs it.
//
// How: a gated call records the gate in its thread's own slots (plain
// stores into initial-exec TLS) before it reads the closed flag, and takes
// it out on every way out (return, fault, deadline, host panic). Close sets
// the flag, runs membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) so that
// every thread's slot stores are visible, and scans the threads. Where
// membarrier is not available, and for calls nested more than 12 deep on
// one thread, a gated call counts itself in the gate with a locked
// increment instead (correct everywhere, a few nanoseconds slower).
//
// The gate's state, the C struct rp_gate that rp_call reads, is the Gate
// itself: Go memory rather than malloc'd, so that no Free is needed and no
// call can ever touch freed memory (a goroutine that passed the loader's
// closed check before a Close, and calls later, still holds the Gate). C
// uses it only during a call whose record points to the Gate (which keeps
// it alive), or during a cgo call that keeps it alive (runtime.KeepAlive
// after it), on Go's non-moving heap; the addresses that threads' slots
// keep after a call are only ever compared, never dereferenced. Go code
// never reads or writes the fields.
type Gate struct {
	closing  int32 // struct rp_gate.closing
	_        int32
	overflow int64 // struct rp_gate.overflow
}

// NewGate returns an open Gate. It installs the package's signal handlers
// if no call has yet, so that calls through the gate need not check.
func NewGate() *Gate {
	installOnce.Do(install)
	return new(Gate)
}

// addr is the gate's address for C.
func (g *Gate) addr() uintptr { return uintptr(unsafe.Pointer(g)) }

// Call is the package-level Call through the gate: it returns
// ErrGateClosed, without calling fn, once Close has begun.
func (g *Gate) Call(fn uintptr, a *Args) (Result, error) {
	if installErr != nil { // NewGate ran install
		return Result{}, installErr
	}
	if a == nil {
		a = &zeroArgs
	}
	r := callRecord{fn: fn, args: unsafe.Pointer(a), nints: argsBlock, gate: g}
	r.run()
	if r.info != statusOK {
		return Result{}, callError(&r, nil)
	}
	return Result{Int: r.a, Float: math.Float64frombits(r.b)}, nil
}

// CallInts is Call for a function whose arguments are integers or pointers
// only, at most 6 (rdi, rsi, rdx, rcx, r8, r9; the other registers are
// not arguments). The trampoline reads them straight from ints: there is
// no Args to fill, which makes it the cheapest protected call.
func (g *Gate) CallInts(fn uintptr, ints []uint64) (Result, error) {
	if len(ints) > len(Args{}.Int) {
		return Result{}, fmt.Errorf("sandbox: %d integer arguments, at most %d", len(ints), len(Args{}.Int))
	}
	if installErr != nil { // NewGate ran install
		return Result{}, installErr
	}
	r := callRecord{fn: fn, args: unsafe.Pointer(unsafe.SliceData(ints)), nints: len(ints), gate: g}
	r.run()
	if r.info != statusOK {
		return Result{}, callError(&r, nil)
	}
	return Result{Int: r.a, Float: math.Float64frombits(r.b)}, nil
}

// CallContext is the package-level CallContext through the gate.
func (g *Gate) CallContext(ctx context.Context, fn uintptr, a *Args) (Result, error) {
	if ctx.Done() == nil {
		return g.Call(fn, a)
	}
	return callContext(ctx, fn, a, g)
}

// Close closes the gate and waits until no call through it is in progress
// on any thread; calls beginning later fail with ErrGateClosed. It returns
// ErrCloseInCall (and leaves the gate open) when the calling goroutine is
// inside a call through the gate, that is, in a host callback of such a
// call. Close is safe to call twice and concurrently.
func (g *Gate) Close() error { return g.CloseContext(context.Background()) }

// CloseContext is Close with its wait for the calls in progress bounded
// by ctx: when ctx is done first, the gate stays closed (calls beginning
// later fail with ErrGateClosed), the calls in progress go on, and the
// error is a *DeadlineError (errors.Is ErrDeadline and ctx.Err()). The
// caller must then keep what those calls use (the plugin's image) alive.
func (g *Gate) CloseContext(ctx context.Context) error {
	if g.InCall() {
		return ErrCloseInCall
	}
	// Concurrent Closes each mark, fence and scan: all idempotent.
	if errno := gateCloseBegin(g.addr()); errno != 0 {
		// Registered at install, membarrier cannot fail later short of
		// a kernel bug; refuse rather than risk returning early.
		return fmt.Errorf("sandbox: close gate: membarrier: %w", syscall.Errno(errno))
	}
	// Calls in progress are short as a rule: yield first, then sleep with
	// a growing pause for long ones.
	for i := 0; gateBusy(g.addr()); i++ {
		if i == 0 && closeWaitHook != nil {
			closeWaitHook(g)
		}
		if err := ctx.Err(); err != nil {
			return &DeadlineError{Cause: err}
		}
		if i < 50 {
			runtime.Gosched()
			continue
		}
		d := time.Duration(i-49) * 20 * time.Microsecond
		if d > time.Millisecond {
			d = time.Millisecond
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	runtime.KeepAlive(g)
	return nil
}

// closeWaitHook, when set (by the package's tests only), is called by
// Close once it has found a call through g in progress and begins to wait:
// the tests' handshake in place of "Close has not returned after a while".
var closeWaitHook func(g *Gate)

// InCall reports whether the calling goroutine is inside a call through the
// gate (running a host callback that such a call made). A goroutine that
// is not in a callback has no call in progress on its thread, whichever
// thread it runs on.
func (g *Gate) InCall() bool {
	r := gateHeldHere(g.addr())
	runtime.KeepAlive(g)
	return r
}
