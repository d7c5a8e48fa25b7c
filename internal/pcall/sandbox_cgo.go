//go:build linux && (amd64 || arm64) && cgo

package pcall

// The calls into sandbox.c (handlers, entry points, host libraries),
// sandbox_amd64.c (ucontext access) and sandbox_amd64.S (the trampoline);
// the package's other _cgo.go files call callback.c, tls.c and baseline.c.
//
// LDFLAGS: libm is linked (sandbox.c references cbrt so --as-needed keeps
// it). The glibc 2.34+ stubs libpthread.so.0, libdl.so.2 and librt.so.1
// are not: their functions are libc's, and mapping and relocating three
// more libraries at every start cost each process ~25 page faults (see
// docs/FIRSTLOAD.md); OpenHostLibrary has glibc load them, and the rest
// of its own (ldso.GlibcLibraries), when a plugin names one. rp_call itself is not called through cgo's generated
// wrapper but run directly by runtime.cgocall: see callRecord.run.

/*
#cgo CFLAGS: -O2 -Wall -fno-omit-frame-pointer
#cgo LDFLAGS: -lm
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include "sandbox.h"

// rp_fixture_dlsym finds a symbol of the host's global scope (tests).
static uint64_t rp_fixture_dlsym(const char *name, const char *version) {
	return (uint64_t)(uintptr_t)(version != NULL ? dlvsym(RTLD_DEFAULT, name, version) : dlsym(RTLD_DEFAULT, name));
}

*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Supported reports whether this build can run plugins: linux/amd64 or
// linux/arm64 with cgo (it is false, and every call returns ErrPlatform,
// elsewhere). On arm64 callbacks are not ported yet (CallbacksSupported).
const Supported = true

// cgoNote completes ErrPlatform's message; this build is supported.
const cgoNote = ""

var (
	installOnce sync.Once
	installErr  error
)

// install puts our handlers in place, once per process, chaining to the
// ones already there (the Go runtime's).
func install() {
	if rc := C.rp_install(C.int(InterruptSignal)); rc != 0 {
		installErr = fmt.Errorf("sandbox: install signal handlers: %w", syscall.Errno(rc))
	}
	if os.Getenv(GateFallbackEnv) == "1" {
		C.rp_gate_set_fallback(1)
	}
}

var zeroArgs Args

// Args is passed to C as a struct rp_args: same layout.
var _ [unsafe.Sizeof(Args{}) - unsafe.Sizeof(C.struct_rp_args{})]byte
var _ [unsafe.Sizeof(C.struct_rp_args{}) - unsafe.Sizeof(Args{})]byte
var _ [unsafe.Offsetof(Args{}.Float) - C.RP_A_FLOAT]byte
var _ [C.RP_A_FLOAT - unsafe.Offsetof(Args{}.Float)]byte

// callRecord is struct rp_callrec, rp_call's one argument (same layout):
// fn, args, nints, slot and gate go in, a, b, info and code come out. args
// is an *Args when nints is argsBlock, or else the address of nints
// integer arguments. A record is built fresh (info and code 0, which
// rp_call's normal return leaves as they are) and run once. args and
// gate are Go pointers so that the record,
// live during the call (runtime.cgocall keeps its argument alive), keeps
// what they point to alive.
type callRecord struct {
	fn    uintptr
	args  unsafe.Pointer
	nints int
	slot  uintptr
	gate  *Gate
	a, b  uint64
	info  int32
	code  int32
}

// argsBlock is callRecord.nints for a whole Args.
const argsBlock = -1

var _ [unsafe.Sizeof(callRecord{}) - C.RP_C_SIZE]byte
var _ [C.RP_C_SIZE - unsafe.Sizeof(callRecord{})]byte
var _ [unsafe.Offsetof(callRecord{}.nints) - C.RP_C_NINTS]byte
var _ [C.RP_C_NINTS - unsafe.Offsetof(callRecord{}.nints)]byte
var _ [unsafe.Offsetof(callRecord{}.a) - C.RP_C_A]byte
var _ [C.RP_C_A - unsafe.Offsetof(callRecord{}.a)]byte
var _ [unsafe.Offsetof(callRecord{}.info) - C.RP_C_INFO]byte
var _ [C.RP_C_INFO - unsafe.Offsetof(callRecord{}.info)]byte

// cgocall is the runtime's call from Go into C, the function cgo's
// generated wrappers call: it leaves the scheduler's running state (as a
// system call does) and runs fn(arg) on the thread's system stack. It is
// linked by name (the runtime keeps it for that, go.dev/issue/67401) so
// that a protected call is one C function, rp_call, instead of cgo's
// wrapper around it: the wrapper's argument copying, struct return and two
// stack-top lookups cost more on this path than all of the protection.
// arg does not escape: the runtime only passes it on to C.
//
//go:linkname cgocall runtime.cgocall
//go:noescape
func cgocall(fn, arg unsafe.Pointer) int32

// rpCall is rp_call's address.
var rpCall = unsafe.Pointer(C.rp_call)

// statusOK is callRecord.info after a normal return.
const statusOK = C.RP_OK

// run runs the call r describes under rp_call and leaves the outcome in
// r.
//
// r is the caller's local variable, on its goroutine's stack, and so is
// the Args or the integers r.args points to when they are the caller's
// locals: C gets their addresses as cgo's wrappers pass their argument
// frames, and they need not move to the heap. While the goroutine is in the
// call its stack cannot shrink, but a callback into Go can grow and so
// move it: rp_call reads r's inputs and what r.args points to before fn
// runs, and writes r's outputs through a pointer that rp_callback_leave
// moves with the stack (as cgo's wrappers do with _cgo_topofstack). The
// caller reads the outputs from r's fields in place: copying r whole would
// read each 16 bytes that C wrote as two 8-byte stores, which this CPU
// cannot forward (a stall of several nanoseconds).
func (r *callRecord) run() {
	cgocall(rpCall, unsafe.Pointer(r))
}

// Call calls the native function at fn with the argument registers of a (nil
// means all zero) and returns its result registers. A SIGSEGV, SIGBUS,
// SIGFPE, SIGILL, SIGABRT or SIGTRAP raised by that code on the calling
// thread ends the call with a *FaultError instead of killing the process.
//
// The fast path is one runtime.cgocall of rp_call: no allocation, no
// system call, and a on the caller's stack stays there (see callRecord.run).
func Call(fn uintptr, a *Args) (Result, error) {
	installOnce.Do(install)
	if installErr != nil {
		return Result{}, installErr
	}
	if a == nil {
		a = &zeroArgs
	}
	r := callRecord{fn: fn, args: unsafe.Pointer(a), nints: argsBlock}
	r.run()
	if r.info != statusOK {
		return Result{}, callError(&r, nil)
	}
	return Result{Int: r.a, Float: math.Float64frombits(r.b)}, nil
}

// CallContext is Call with a deadline: when ctx is done before fn returns,
// the thread running fn is interrupted with InterruptSignal and the call
// returns a *DeadlineError (errors.Is ErrDeadline and ctx.Err()). A ctx that
// can never be done (Done returns nil) costs the same as Call. See the
// package documentation for what an interrupted plugin can leave behind.
func CallContext(ctx context.Context, fn uintptr, a *Args) (Result, error) {
	done := ctx.Done()
	if done == nil {
		return Call(fn, a)
	}
	return callContext(ctx, fn, a, nil)
}

// callContext is CallContext (through gate, or ungated when gate is nil)
// for a ctx that can be done.
func callContext(ctx context.Context, fn uintptr, a *Args, gate *Gate) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, &DeadlineError{Cause: err}
	}
	installOnce.Do(install)
	if installErr != nil {
		return Result{}, installErr
	}
	if a == nil {
		a = &zeroArgs
	}
	slot := C.rp_slot_new()
	if slot == 0 {
		return Result{}, errors.New("sandbox: allocate deadline slot: out of memory")
	}
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		interrupt(slot)
		close(fired)
	})
	r := callRecord{fn: fn, args: unsafe.Pointer(a), nints: argsBlock, slot: uintptr(slot), gate: gate}
	r.run()
	if !stop() {
		// The interrupter has started: it may still read the slot.
		<-fired
	}
	C.rp_slot_free(slot)
	if r.info != statusOK {
		return Result{}, callError(&r, ctx)
	}
	return Result{Int: r.a, Float: math.Float64frombits(r.b)}, nil
}

// callError turns a failed call's record into its error.
func callError(r *callRecord, ctx context.Context) error {
	pc := uintptr(r.b)
	switch r.info & 0xff {
	case C.RP_FAULT:
		return newFaultError(int(r.info>>8&0xff), r.code, uintptr(r.a), pc, r.info&C.RP_NEAR_SP != 0)
	case C.RP_INTERRUPTED:
		e := &DeadlineError{PC: pc}
		if ctx != nil {
			e.Cause = ctx.Err()
		}
		if e.Cause == nil {
			e.Cause = context.DeadlineExceeded
		}
		if e.PC != 0 {
			e.Plugin, e.Symbol, _ = symbolize(e.PC)
		}
		return e
	case C.RP_ABORTED:
		return abortError(int64(r.a), pc) // a *HostPanicError or an *AbortError
	case C.RP_CLOSED:
		return ErrGateClosed
	}
	return fmt.Errorf("sandbox: call ended with unknown status %#x", int(r.info))
}

// Gate is struct rp_gate: same layout.
var _ [unsafe.Sizeof(Gate{}) - unsafe.Sizeof(C.struct_rp_gate{})]byte
var _ [unsafe.Sizeof(C.struct_rp_gate{}) - unsafe.Sizeof(Gate{})]byte
var _ [unsafe.Offsetof(Gate{}.closing) - C.RP_GATE_CLOSING]byte
var _ [C.RP_GATE_CLOSING - unsafe.Offsetof(Gate{}.closing)]byte
var _ [unsafe.Offsetof(Gate{}.overflow) - C.RP_GATE_OVERFLOW]byte
var _ [C.RP_GATE_OVERFLOW - unsafe.Offsetof(Gate{}.overflow)]byte

// gateCloseBegin marks g closing and issues the membarrier (errno or 0).
func gateCloseBegin(g uintptr) int {
	installOnce.Do(install) // decides between membarrier and the fallback
	return int(C.rp_gate_close_begin(C.uintptr_t(g)))
}

// gateBusy reports whether a call through g is in progress on any thread.
func gateBusy(g uintptr) bool { return C.rp_gate_busy(C.uintptr_t(g)) != 0 }

// gateHeldHere reports whether the calling thread is inside a call through g.
func gateHeldHere(g uintptr) bool { return C.rp_gate_held_here(C.uintptr_t(g)) != 0 }

// GateFallback reports whether gated calls (Gate) count themselves in
// their gate with locked instructions, because membarrier is unavailable
// or GateFallbackEnv forced it, instead of using per-thread slots.
func GateFallback() bool {
	installOnce.Do(install)
	return C.rp_gate_fallback != 0
}

// gateMembarrier reports whether gated calls use the membarrier scheme.
func gateMembarrier() bool {
	installOnce.Do(install)
	return C.rp_gate_membarrier_ok() != 0
}

// membarrierAtCtor reports whether the membarrier registration happened
// in sandbox.c's constructor, before the Go runtime's threads (tests).
func membarrierAtCtor() bool { return C.rp_gate_membarrier_at_ctor() != 0 }

// setGateFallback forces gated calls onto the overflow counter (tests).
func setGateFallback(on bool) {
	installOnce.Do(install)
	v := C.int(0)
	if on {
		v = 1
	}
	C.rp_gate_set_fallback(v)
}

// hostSymbol asks the dynamic linker which host object holds pc and which
// of its exported symbols is nearest below it.
func hostSymbol(pc uintptr) (sym, object string) {
	s := C.rp_dladdr(C.uint64_t(pc))
	if s.ok == 0 {
		return "", ""
	}
	if s.fname != nil {
		object = C.GoString(s.fname)
	}
	if s.sname != nil && uintptr(s.saddr) <= pc {
		sym = fmt.Sprintf("%s+%#x", C.GoString(s.sname), pc-uintptr(s.saddr))
	}
	return sym, object
}

// Test fixtures: the C functions sandbox.c provides for the package's tests
// (cgo is not available in _test.go files).

// fixtureAdd returns the address of the C function add(a, b int64) int64.
func fixtureAdd() uintptr { return uintptr(C.rp_fixture_add_addr()) }

// fixtureCall2 is an unprotected cgo call of fn(a, b) through the pointer:
// the baseline of BenchmarkCall, and the crash of the unprotected-fault test.
func fixtureCall2(fn uintptr, a, b int64) int64 {
	return int64(C.rp_fixture_call2(C.uint64_t(fn), C.int64_t(a), C.int64_t(b)))
}

// fixtureAbortCall returns a C function f(code) that aborts the protected
// call it runs in with rp_abort_current(code), as a callback dispatcher
// would after a failed Go callback.
func fixtureAbortCall() uintptr { return uintptr(C.rp_fixture_abort_call_addr()) }

// fixtureCallbackState returns a C function that reports the thread's
// in-plugin flag before, during and after rp_callback_enter/leave.
func fixtureCallbackState() uintptr { return uintptr(C.rp_fixture_callback_state_addr()) }

// fixtureLeaveHookArm makes the next rp_callback_leave of a CallContext
// call send that call's deadline signal at the given step (1 to 3), once.
func fixtureLeaveHookArm(step int) { C.rp_fixture_leave_hook_arm(C.int(step)) }

// fixtureCallbackThenSpin returns a C function f(cb) that calls the
// callback cb, then spins until interrupted or fixtureSpinStop.
func fixtureCallbackThenSpin() uintptr { return uintptr(C.rp_fixture_callback_then_spin_addr()) }

// fixtureSpinStop makes fixtureCallbackThenSpin's function return -1.
func fixtureSpinStop() { C.rp_fixture_spin_stop() }

// fixtureOuterPending reports, from a Go callback, whether a deadline
// signal has marked the protected call that made it (-1: no such call).
func fixtureOuterPending() int { return int(C.rp_outer_pending()) }

// DeadlinePassedInCallback reports, from a host callback (Go code that
// plugin code called), whether the deadline of the protected call that
// made the callback has passed: the call ends with ErrDeadline as soon as
// the callback returns, so a long callback can poll this and return early.
// It is false outside a callback and for calls without a deadline.
func DeadlinePassedInCallback() bool { return C.rp_outer_pending() == 1 }

// fixtureFaultHolding returns a function that counts a lock as held on its
// thread (none is) and faults; fixtureUnhold undoes both.
func fixtureFaultHolding() uintptr { return uintptr(C.rp_fixture_fault_holding_addr()) }

func fixtureUnhold() { C.rp_fixture_unhold() }

// fixtureLockSpin returns a function that holds a runplug lock until a
// deadline signal was deferred, then unlocks; fixtureLockFree reports
// whether that lock is free.
func fixtureLockSpin() uintptr { return uintptr(C.rp_fixture_lock_spin_addr()) }

func fixtureLockFree() bool { return C.rp_fixture_lock_free() != 0 }

// fixtureDlsym returns the address of a symbol in the host's global scope
// (libc, libm, ld.so), of the given version when it is not "" (0: none).
func fixtureDlsym(name, version string) uintptr {
	cn := C.CString(name)
	defer C.free(unsafe.Pointer(cn))
	var cv *C.char
	if version != "" {
		cv = C.CString(version)
		defer C.free(unsafe.Pointer(cv))
	}
	return uintptr(C.rp_fixture_dlsym(cn, cv))
}
