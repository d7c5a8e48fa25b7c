// Package pcall is the protected-call core: it calls into native code so
// that a fault raised by that code, or a deadline that passes, becomes a Go
// error instead of a crash or a hang of the host. It owns what every
// protected call touches: the trampoline and the signal handlers
// (sandbox.c, sandbox_amd64.S, sandbox.h), the per-thread frame and the
// lock bookkeeping the other C packages share (locks.h), general call
// frames (callframe*), callbacks into Go (callback*), gates, deadlines,
// and fault descriptions. The other packages with C (tlsrt, dlsvc,
// debugreg, childrt) build on it: their C calls rp_self, the lock
// bookkeeping and rp_callback_enter/leave from here (cgo links them; their
// #cgo CFLAGS include this directory for the headers), never the other way
// round, so this package stands alone and its tests need no other.
//
// It must use unsafe and cgo: it hands Go memory to native code and
// rewrites a signal's interrupted context. What keeps it right is the
// layout checks between Go and C (sandbox_cgo.go's compile-time asserts,
// callback.c's _Static_asserts) and the rule that the signal handler
// touches only async-signal-safe state. [CString] and [CStringInto] are
// the one reader of C strings in this process's memory: bounded, and a
// fault while reading is an error ([ErrBadAddress]), not a crash. Off linux/amd64 with cgo it
// compiles, and every call returns [ErrPlatform] ([Supported] is
// false).
//
// # Protected calls
//
// [Call] passes the SysV AMD64 argument registers of an [Args] (rdi, rsi,
// rdx, rcx, r8, r9 and xmm0-xmm7) to a native function and returns rax and
// xmm0 as a [Result]; [Gate.CallInts] takes integer arguments only, read in
// place. A call is one runtime.cgocall (the runtime's entry from Go into
// C, the one cgo's wrappers use; no wrapper here) of an assembly
// trampoline (sandbox_amd64.S) that gets a call record on the goroutine's
// stack, builds a per-call frame on its own stack, marks it active (the
// in-plugin flag), makes it the thread's current frame in an initial-exec
// TLS block, loads the argument registers and calls the function. The
// frame's address is the recovery point. No allocation, no system call, no
// signal-mask save (docs/PERFORMANCE.md gives what a call costs,
// measured against a plain cgo call).
//
// # Signals
//
// The first call installs handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGABRT and SIGTRAP (an int3 left in plugin code; a debugger attached with
// ptrace still sees its breakpoints first), and for [InterruptSignal], with
// SA_SIGINFO|SA_ONSTACK|SA_RESTART and every signal blocked while they run,
// after saving the actions that were there: the Go runtime's. A signal is
// claimed only when the thread that received it is inside a protected call
// and runs plugin code (its TLS block points at an active frame) and the
// signal was raised synchronously by that thread: a kernel-generated fault
// (si_code > 0) or, for SIGABRT, a thread-directed signal from this process
// (SI_TKILL, what abort() sends). Everything else is passed to the
// saved handler with the same arguments, as os/signal asks of non-Go
// handlers, so the Go runtime sees it exactly as before: a nil dereference
// in Go code still panics and can be recovered, a fault in unprotected C code
// still crashes with Go's traceback. (signal.Notify and signal.Reset leave
// the handlers in place; signal.Ignore of SIGABRT or InterruptSignal sets
// that signal to SIG_IGN, which disarms aborts or deadlines.)
//
// A claimed signal is recorded (signal, si_code, si_addr, RIP, RSP) in the
// call's frame; the handler then rewrites the interrupted context (RIP to a
// recovery stub, RSP to the trampoline's frame, DF cleared) and returns, so
// the kernel's sigreturn restores the signal mask. The stub resets the x87
// and SSE control words to their ABI defaults and returns "faulted" to Go,
// which builds a [*FaultError]. Because the handler runs on the alternate signal stack that the Go runtime
// gives each thread, unbounded recursion in plugin code (a fault in the
// stack's guard region) is trapped like any other fault.
//
// # Describing faults
//
// Hosts (the loader) [Register] the address range of each mapped image,
// guard pages included, with a [Describer] that names the plugin, says what
// an address in the range is and finds the symbol nearest to a PC. The table
// is a sorted copy-on-write slice behind an atomic pointer; only the fault
// path reads it. A fault's Where comes from the registration holding its
// address; otherwise "stack overflow" when the address lies within 64 KiB
// below the faulting stack pointer, "not mapped" when the kernel has no
// mapping there (mincore), else "mapped, not a plugin". A PC outside every
// registration is named from the host's dynamic symbols (dladdr).
//
// # Deadlines
//
// [CallContext] publishes the thread id (cached per thread) and the call's
// process-wide sequence number in a small C slot; when the context is done
// first, a goroutine started by context.AfterFunc marks the slot cancelled
// and sends [InterruptSignal] to that thread with rt_tgsigqueueinfo,
// carrying the sequence number. The handler ends the call only if the
// thread is still in that very call (stale signals are dropped); the call
// itself looks at the cancel mark after publishing its frame, so a deadline
// that passes just before the plugin starts is not lost. The call returns a
// [*DeadlineError] that wraps [ErrDeadline] and ctx.Err().
//
// Interrupting native code is abrupt: the plugin does not unwind. It can
// leave behind a lock it held (a pthread mutex, or a libc-internal one such
// as malloc's arena lock or stdio's FILE lock: the next call that takes it
// on any thread deadlocks), half-written data structures, leaked heap
// memory and open file descriptors, and a thread-local state mid-update.
// The loader therefore quarantines a plugin after an interrupt. A plugin
// that blocks InterruptSignal, or sits in an uninterruptible system call,
// is interrupted only when it unblocks it or returns to user space.
//
// # Callbacks into Go
//
// A C-side dispatcher that plugin code calls and that calls into Go must
// clear the in-plugin flag around the Go call (rp_callback_enter and
// rp_callback_leave in sandbox.h), so faults in Go code reach the Go
// runtime; a deadline that passes meanwhile interrupts the call when control
// returns (never lost, however the signal and the return interleave), and
// the Go code can see that it passed ([DeadlinePassedInCallback]) and
// return early. The dispatcher can end the outer protected call early with
// rp_abort_current(code) (for example after a Go panic in a host function):
// the call returns an [*AbortError] ([ErrAborted]).
//
// [NewCallback] is that dispatcher for Go functions: it gives a Go
// function of the raw form func(*Args) Result ([NewCallbackRegs]: of the
// register form [RegFunc]; [NewCallbackInts]: of the integer form
// [IntFunc]; [NewCallbackFrame]: with the stack arguments) a C-callable
// address, a 32-byte thunk (in pages mapped read-write, filled, then made
// read-and-execute, never both) that loads the callback's id and jumps to
// an entry (callback_amd64.S), which saves the argument registers, enters
// the Go dispatcher through cgo's crosscall2 as an //export wrapper does
// (bracketed with rp_callback_enter/leave when the thread is inside a
// protected call), and returns the Result in rax and xmm0. Any thread may
// call it, threads the plugin created included. A panic in the Go
// function is recovered by the dispatcher; it never unwinds through C
// frames. Inside a protected call it ends that call with a
// [*HostPanicError] ([ErrHostPanic]); outside one the caller gets 0 and
// the callback's panic handler is told. Thunk pages are never unmapped:
// [Callback.Free] makes the address a defined error ([ErrCallbackFreed])
// until its slot is reused, after 1,024 other releases.
//
// # Gates
//
// A [Gate] lets a host wait for the calls in progress through it: the
// loader gives one to each plugin and closes it before unmapping the
// plugin's code. A gated call costs no atomic read-modify-write: it
// records the gate in its thread's initial-exec TLS slots (plain stores)
// before it reads the gate's closing flag, and [Gate.Close] sets the flag,
// runs membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) (which orders every
// thread's slot stores before its scan, the asymmetric half of the
// store/load fence the calls leave out) and scans the threads that ever
// made a gated call. Without membarrier, and for calls nested more than 12
// deep on one thread through callbacks, a gated call counts itself in the
// gate with a locked increment and decrement instead ([GateFallback]).
package pcall
