package loader

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// Callback is a Go function made into a C function pointer: native code
// (a plugin, a host C library such as libc's qsort) may store Ptr and call
// it later, any number of times, on any thread, until Release.
//
// The Go function takes the argument types and result type of a host
// function (see Loader.RegisterHostFunc): bool, integers, uintptr,
// unsafe.Pointer, float32, float64 (or types defined on them), string
// arguments (a const char * copied into Go; NULL is ""), and structs by
// value whose layout is C's (as Bind takes them: package abi checks it
// and classifies them per the SysV AMD64 psABI, the same plan a binding
// uses); any number of arguments (past the registers, native code passes
// them on the stack), and at most one result, not a string: a struct
// result of up to 16 bytes comes back in rax/rdx and xmm0/xmm1, a larger
// one through the caller's hidden buffer. A last parameter of type
// *VarArgs makes the C type variadic (int f(const char *fmt, ...)): the
// function reads the variable part through it. It may also be a
// func(*pcall.Args) pcall.Result (raw registers). A typed function with at most 6 integer-class and 8
// float-class scalar arguments that fit Go's argument registers (strings
// count twice; at most 9) is called without reflect or allocation, string
// arguments aside, and so is one with structs or stack arguments whose Go
// arguments and result all fit Go's register ABI (9 integer and 15 float
// registers, a struct field by field, no array of more than one element;
// a *VarArgs takes one), the others through reflect.
//
// Where it runs: on the thread that calls Ptr, synchronously.
//   - Inside a protected call (a plugin function called through this
//     package, or sandbox.Call): nested in that call, like a host
//     function. A panic ends that call with an error wrapping a
//     *HostPanicError, and the native code after the call of Ptr
//     never runs.
//   - Outside any protected call (C code the host called with cgo, or a
//     thread the plugin created with pthread_create, which cgo attaches
//     to the Go runtime for the call): a panic is recovered, the native
//     caller gets a zero result, and the *HostPanicError goes to
//     the panic handler (SetPanicHandler); the first one is kept as Err.
//
// After Release a call through Ptr does not run the Go function: it is
// handled like a panic whose value is pcall.ErrCallbackFreed. The
// address stays valid code; a later callback may reuse it, but only after
// more than 1,024 others were released (see pcall.Callback.Free).
type Callback struct {
	cb     *pcall.Callback
	remote *wire.RemoteCallback // for isolated plugins (remote_frame.go)
}

// NewCallback makes fn callable from C (see Callback). It returns a
// *SignatureError when fn's type is not supported, and an error that
// matches ErrUnsupported off linux/amd64 with cgo.
func NewCallback(fn any) (*Callback, error) {
	name := callbackName(fn)
	hf, err := hostCallback(name, fn)
	if err != nil {
		var se *SignatureError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, fmt.Errorf("loader: new callback %s: %w", name, err)
	}
	cb, err := hf.callback(name)
	if err != nil {
		return nil, fmt.Errorf("loader: new callback: %w", err)
	}
	c := &Callback{cb: cb}
	c.remote = newRemoteCallback(c, name, hf, fn) // remote_frame.go
	return c, nil
}

// callbackName names fn in errors: its Go function name.
func callbackName(fn any) string {
	v := reflect.ValueOf(fn)
	if v.Kind() == reflect.Func && !v.IsNil() {
		if f := runtime.FuncForPC(v.Pointer()); f != nil {
			return f.Name()
		}
	}
	return fmt.Sprintf("%T", fn)
}

// Ptr returns the C function pointer. It stays the same until Release.
func (c *Callback) Ptr() uintptr { return c.cb.Addr() }

// Name returns the Go function's name, as errors give it.
func (c *Callback) Name() string { return c.cb.Name() }

// SetPanicHandler makes h receive the panics of the calls made outside any
// protected call (see Callback), on the calling thread; nil removes it. It
// should be set before Ptr is handed to native code.
func (c *Callback) SetPanicHandler(h func(*HostPanicError)) { c.cb.SetPanicHandler(h) }

// Err returns the first panic of a call made outside any protected call
// (a *HostPanicError), or nil. Panics inside protected calls are
// the errors of those calls instead.
func (c *Callback) Err() error { return c.cb.Err() }

// Release makes the function pointer stop calling the Go function (see
// Callback) and lets its slot be reused later. Native code must not call
// Ptr after it. It is safe to call twice.
func (c *Callback) Release() {
	c.cb.Free()
	releaseRemote(c.remote) // remote_frame.go
}
