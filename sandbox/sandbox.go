package sandbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/pcall"
)

// Supported reports whether this build can make protected calls:
// linux/amd64 or linux/arm64 built with cgo.
const Supported = pcall.Supported

// InterruptSignal is the signal a call whose context is done is
// interrupted with (SIGRTMAX-3). The host must not use it for anything
// else, nor ignore it.
const InterruptSignal = pcall.InterruptSignal

// FaultError is the error of a call that faulted: the signal, its code,
// the address and PC, and what the address was.
type FaultError = pcall.FaultError

// DeadlineError is the error of a call interrupted because its context
// was done; it matches ErrDeadline and the context's error.
type DeadlineError = pcall.DeadlineError

var (
	// ErrDeadline is matched by the error of a call that its context
	// interrupted.
	ErrDeadline = pcall.ErrDeadline
	// ErrUnsupported is wrapped by the error of every call in a build
	// that cannot make them (see Supported). It is runplug's one
	// ErrUnsupported (loader.ErrUnsupported is the same value), and
	// matches errors.ErrUnsupported.
	ErrUnsupported = errs.ErrUnsupported
)

// maxArgs bounds the integer arguments of Call: six go in registers, the
// rest on the stack, as the SysV AMD64 ABI passes them.
const maxArgs = 6 + pcall.MaxFrameStack/8

// Call calls the native function at fn with integer and pointer arguments
// args (SysV AMD64: the first six in registers, the rest on the stack) and
// returns its integer result (rax). A fault in the function returns a
// *FaultError; a ctx that is done before the function returns interrupts
// it and returns a *DeadlineError. fn must be the address of a function
// that takes len(args) integer or pointer arguments; floating-point
// arguments and results are not supported by Call.
func Call(ctx context.Context, fn uintptr, args ...uint64) (uint64, error) {
	if ctx == nil {
		return 0, errors.New("sandbox: call: nil context")
	}
	if len(args) > maxArgs {
		return 0, fmt.Errorf("sandbox: call: %d arguments, at most %d", len(args), maxArgs)
	}
	if len(args) <= 6 {
		var a pcall.Args
		copy(a.Int[:], args)
		r, err := pcall.CallContext(ctx, fn, &a)
		return r.Int, err
	}
	f := pcall.Frame{Stack: args[6:]}
	copy(f.Int[:], args)
	r, err := pcall.CallFrame(ctx, fn, &f)
	return r.RAX, err
}
