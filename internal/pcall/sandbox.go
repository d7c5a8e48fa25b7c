package pcall

import (
	"errors"
	"fmt"
	"runtime"
	"syscall"

	"github.com/runplug/runplug/internal/errs"
)

// Args are the argument registers of a native call under the SysV AMD64
// ABI: Int is rdi, rsi, rdx, rcx, r8, r9 and Float is xmm0-xmm7 (as doubles;
// a float32 argument goes in the low bits, see math.Float32bits).
type Args struct {
	Int   [6]uint64
	Float [8]float64
}

// Result holds rax and xmm0 after a native call returned.
type Result struct {
	Int   uint64
	Float float64
}

// InterruptSignal is the signal CallContext sends to a thread whose call
// passed its deadline: SIGRTMAX-3 (61). glibc keeps 32 and 33 for itself
// (SIGRTMIN is 34 for applications) and the Go runtime uses no real-time
// signal; signals counted down from SIGRTMAX are the ones least used by
// libraries that pick from SIGRTMIN up. The host must not use it for
// anything else (other senders of it are passed on to the previous handler
// unless they look like ours: SI_QUEUE from this process).
const InterruptSignal = syscall.Signal(61)

var (
	// ErrDeadline is wrapped by the error of a call that CallContext
	// interrupted because its context was done.
	ErrDeadline = errors.New("call stopped by its context")
	// ErrAborted is wrapped by the error of a call that a C-side dispatcher
	// ended with rp_abort_current.
	ErrAborted = errors.New("sandbox: call aborted by host")
	// ErrPlatform is the error of every call, and so of every plugin
	// load, in a build that cannot run plugins: anything but linux/amd64
	// and linux/arm64 built with cgo (see Supported). It is not a sentinel of its own: it
	// wraps runplug's one ErrUnsupported (loader.ErrUnsupported,
	// sandbox.ErrUnsupported), which matches
	// errors.ErrUnsupported. Its message has no package prefix: it reads
	// the same wrapped by package loader or printed by the command.
	ErrPlatform = fmt.Errorf("running plugins needs linux/amd64 or linux/arm64 built with cgo (this is %s/%s%s): %w",
		runtime.GOOS, runtime.GOARCH, cgoNote, errs.ErrUnsupported)
)

// DeadlineError is the error of a call stopped because its context was
// done: in process, CallContext interrupted the thread running it (PC,
// Symbol say where); isolated, the plugin's process was killed (Pid says
// which; PC is 0). It matches ErrDeadline and Cause (ctx.Err()) with
// errors.Is. It is the one deadline error type of runplug:
// loader.DeadlineError names it.
type DeadlineError struct {
	PC     uintptr // where the plugin was interrupted (0 if it never started, or isolated)
	Plugin string  // the plugin the call ran in (in process: the registered region containing PC), if known
	Symbol string  // nearest symbol to PC as "name+0x1f", if known
	Pid    int     // the isolated plugin's process, killed to stop the call (0 in process)
	Cause  error   // ctx.Err()
}

// Error says where the call was stopped and why.
func (e *DeadlineError) Error() string {
	s := "call interrupted"
	switch {
	case e.Pid != 0:
		s = fmt.Sprintf("call into %s stopped (plugin process %d killed)", e.Plugin, e.Pid)
	case e.PC != 0:
		s += fmt.Sprintf(" at pc %#x", e.PC)
		if e.Symbol != "" {
			s += ": " + e.Symbol
		}
		if e.Plugin != "" {
			s += " in " + e.Plugin
		}
	case e.Plugin != "":
		s = "call into " + e.Plugin + " stopped before it started"
	default:
		s += " before it started"
	}
	return s + ": " + fmt.Sprint(e.Cause)
}

// Unwrap returns ErrDeadline and the context's error.
func (e *DeadlineError) Unwrap() []error { return []error{ErrDeadline, e.Cause} }

// AbortError is the error of a call that a C-side dispatcher ended with
// rp_abort_current(Code). It matches ErrAborted.
type AbortError struct {
	Code int64   // the dispatcher's code
	PC   uintptr // return address of the rp_abort_current call
}

// Error gives the dispatcher's code and where it aborted the call.
func (e *AbortError) Error() string {
	return fmt.Sprintf("sandbox: call aborted by host (code %d) at pc %#x", e.Code, e.PC)
}

// Unwrap returns ErrAborted.
func (e *AbortError) Unwrap() error { return ErrAborted }
