package errs

import (
	"errors"
	"fmt"
	"reflect"
)

// ErrSignature is wrapped by a *SignatureError.
var ErrSignature = errors.New("loader: unsupported signature")

// SignatureError reports a Go function type that cannot be bound to a
// native function (or registered as a host function): an argument or
// result type that has no SysV AMD64 register class runplug supports, or
// too many arguments of one class.
type SignatureError struct {
	Symbol string       // the plugin symbol or host function name
	Type   reflect.Type // the whole function type, when known
	Index  int          // the argument at fault (0-based; Error counts from 1), -1 for the result, -2 for the whole signature
	Reason string
	Err    error // the underlying error (an *abi.TypeError or *callconv.PlanError), or nil
}

// Error formats e as, for example,
// "loader: bind f: argument 1: type []uint8 (slice) has no supported register class".
func (e *SignatureError) Error() string {
	what := "signature"
	switch {
	case e.Index >= 0:
		what = fmt.Sprintf("argument %d", e.Index+1) // counted from 1, as the command counts them
	case e.Index == -1:
		what = "result"
	}
	s := fmt.Sprintf("loader: bind %s: %s: %s", e.Symbol, what, e.Reason)
	if e.Type != nil {
		s += fmt.Sprintf(" (in %v)", e.Type)
	}
	return s
}

// Unwrap returns ErrSignature and Err.
func (e *SignatureError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrSignature}
	}
	return []error{ErrSignature, e.Err}
}
