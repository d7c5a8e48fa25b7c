//go:build linux && (amd64 || arm64)

package debugreg

/*
#include "debugreg.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// CgoTracebackFuncs are the C functions of runtime.SetCgoTraceback
// (version 0 of its contract): a host that has its own passes them to
// SetCgoTraceback instead of calling the runtime itself.
type CgoTracebackFuncs struct {
	Traceback, Context, Symbolizer unsafe.Pointer
}

var (
	cgoTBMu   sync.Mutex
	cgoTBHost *CgoTracebackFuncs // what was installed, nil before
)

// ErrCgoTraceback is returned by SetCgoTraceback when the process already
// has a cgo traceback that is not runplug's, or runplug's with other host
// functions: the runtime accepts one set per process and offers no way to
// read it back, so runplug cannot chain to it.
var ErrCgoTraceback = errors.New("runtime.SetCgoTraceback was already called with other functions")

// SetCgoTraceback installs runplug's cgo traceback and symbolizer with
// runtime.SetCgoTraceback, so that Go CPU profiles (runtime/pprof) and
// crash tracebacks name the functions of plugin code under the Go frames
// that called it. For a PC outside runplug's objects they call host's
// Traceback and Symbolizer when given (nil: the PC is left unknown, as
// without a traceback); host.Context is installed as is. The traceback
// records the interrupted PC and follows frame pointers through plugin
// frames (code built without them, the default at -O2, shows only the
// innermost function, save a frameless leaf's caller); the symbolizer
// names functions from the tables the loader gives (debugreg.SymbolTable),
// without file or line.
//
// The runtime accepts one set of functions per process: a host that has
// its own passes them here instead of calling runtime.SetCgoTraceback.
// Calling it again with the same host functions does nothing; with others,
// or after runtime.SetCgoTraceback was called with other functions, it
// returns an error wrapping ErrCgoTraceback. A host that calls
// runtime.SetCgoTraceback with other functions after this panics ("call
// SetCgoTraceback only once"), as it would for any second caller.
//
// Nothing of this touches the call path: the table the functions read is
// kept up to date at load and close.
func SetCgoTraceback(host CgoTracebackFuncs) (err error) {
	cgoTBMu.Lock()
	defer cgoTBMu.Unlock()
	if cgoTBHost != nil {
		if *cgoTBHost != host {
			return fmt.Errorf("sandbox: install cgo traceback: installed with other host functions: %w", ErrCgoTraceback)
		}
		return nil
	}
	C.rp_prof_set_host(host.Traceback, host.Symbolizer)
	defer func() {
		if r := recover(); r != nil {
			C.rp_prof_set_host(nil, nil)
			err = fmt.Errorf("sandbox: install cgo traceback: %v: %w", r, ErrCgoTraceback)
		}
	}()
	runtime.SetCgoTraceback(0, unsafe.Pointer(C.rp_cgo_traceback), host.Context, unsafe.Pointer(C.rp_cgo_symbolizer))
	h := host
	cgoTBHost = &h
	profAddRegistered()
	return nil
}
