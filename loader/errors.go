package loader

import (
	"errors"

	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/pcall"
)

// The errors a host tests, all reachable from this package: each is
// defined once, in the package that raises it, and named here. Their text
// carries no "loader:" prefix: the loader's methods return them wrapped in
// a message that starts with it, once. An isolated plugin's errors are
// the same values and types (package isolate carries them across the
// process boundary), so errors.Is and errors.As answer the same in both
// modes.

var (
	// ErrUnsupported is wrapped by every error that says runplug does not
	// support something here: a build that cannot run plugins (anything
	// but linux/amd64 with cgo), an ELF file or feature it declines
	// (elfmap.ErrUnsupported is the same value), a use of thread-local
	// storage (ErrTLS), an operation an isolated plugin cannot carry. It
	// matches errors.ErrUnsupported too.
	ErrUnsupported = errs.ErrUnsupported

	// ErrNotFound is wrapped by the error of a load whose object or one
	// of its needed libraries could not be found (a *NotFoundError).
	ErrNotFound = errs.ErrNotFound
	// ErrSymbolNotFound is returned (wrapped) by Plugin.Lookup and
	// Plugin.Func for a name the plugin does not define, and wrapped by
	// an *UndefinedSymbolError when a load fails on a missing import.
	ErrSymbolNotFound = errs.ErrSymbolNotFound
	// ErrSignature is wrapped by a *SignatureError.
	ErrSignature = errs.ErrSignature

	// ErrClosed is returned (wrapped) by the methods of a closed Plugin,
	// Func or Loader.
	ErrClosed = errors.New("closed")
	// ErrQuarantined is returned (wrapped) by calls into a plugin that
	// faulted, was interrupted or aborted in an earlier call (see
	// Options.KeepAfterFault). Close still works.
	ErrQuarantined = errors.New("plugin quarantined after a fault")
	// ErrTLS is wrapped by the error of a load refused because the object
	// uses thread-local storage in a way runplug does not support: a
	// thread-local symbol only the host C library defines, initial-exec
	// access to a module already loaded with dynamic TLS, a link-time TLS
	// relocation type. Plugin.Lookup of a thread-local symbol wraps it
	// too. (The dynamic models, the initial-exec model and TLS descriptors
	// are supported: see the package doc; running out of static TLS is a
	// tlsrt.ErrStaticTLSFull.) It wraps ErrUnsupported.
	ErrTLS = errs.Unsupported("unsupported use of thread-local storage")

	// ErrDeadline is wrapped by the error of a call (or of a destructor
	// run by Close) stopped because its context was done: a
	// *DeadlineError.
	ErrDeadline = pcall.ErrDeadline
)

type (
	// NotFoundError reports a library that no search path entry provides.
	NotFoundError = errs.NotFoundError
	// UndefinedSymbolError reports a strong import that nothing provides.
	UndefinedSymbolError = errs.UndefinedSymbolError
	// RelocError reports a relocation the loader refused to apply.
	RelocError = errs.RelocError
	// RefusedError is the error of a library that was found, is a shared
	// object ld.so would load, and that runplug refuses.
	RefusedError = errs.RefusedError
	// SignatureError reports a Go function type that cannot be bound to
	// a native function (or registered as a host function).
	SignatureError = errs.SignatureError

	// FaultError reports a signal raised by plugin code during a call:
	// signal, code, address, PC, plugin, symbol and what the address
	// is. The call's error wraps it and the plugin is quarantined.
	FaultError = pcall.FaultError
	// DeadlineError is the error of a call stopped because its context
	// was done: interrupted where it ran in process, or by killing the
	// plugin's process when isolated (Pid is then set). It matches
	// ErrDeadline and the context's error.
	DeadlineError = pcall.DeadlineError
	// HostPanicError is the error of a call that ended because a Go
	// function it called back into (a host function or a Callback)
	// panicked.
	HostPanicError = pcall.HostPanicError
)
