package errs

import "errors"

// ErrUnsupported is wrapped by every error that says "runplug does not
// support this here": a build or platform that cannot run plugins, an ELF
// file or feature it declines (another machine, a relocation type it does
// not implement, a use of thread-local storage), an operation the isolated
// tier cannot carry. It matches errors.ErrUnsupported too.
var ErrUnsupported error = unsupported{}

type unsupported struct{}

func (unsupported) Error() string { return "not supported" }

// Unwrap returns errors.ErrUnsupported, so that a host that tests the
// standard library's sentinel finds runplug's.
func (unsupported) Unwrap() error { return errors.ErrUnsupported }

// Unsupported returns a sentinel for one named kind of unsupported use
// (loader.ErrTLS): its message is msg, and it matches ErrUnsupported.
func Unsupported(msg string) error { return &unsupportedKind{msg} }

type unsupportedKind struct{ msg string }

func (e *unsupportedKind) Error() string { return e.msg }
func (e *unsupportedKind) Unwrap() error { return ErrUnsupported }
