//go:build linux && (amd64 || arm64)

package tlsrt

// The cgo half of dynamic thread-local storage: the C runtime is tls.c
// (see there for the design). rp_tls_get_addr is never called from Go: the
// loader binds plugins' __tls_get_addr imports to its address.

/*
#cgo CFLAGS: -O2 -Wall -fno-omit-frame-pointer -I${SRCDIR}/../pcall
#include <stdint.h>
#include "tls.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"

	// The protected-call core's C: rp_self and the lock bookkeeping
	// (locks.h) that this package's C uses.
	_ "github.com/runplug/runplug/internal/pcall"
)

// MaxTLSModules is the number of TLS modules that can be live at once.
const MaxTLSModules = C.RP_TLS_MAX_MODULES

// Supported reports whether this build has the TLS runtime: linux/amd64
// and linux/arm64 with cgo.
const Supported = true

// Abort codes (AbortError.Code) of a call whose plugin code asked
// __tls_get_addr for something it cannot serve.
const (
	// TLSAbortModule: the tls_index names no live module (a module id
	// that was never registered, or was freed).
	TLSAbortModule = C.RP_TLS_ABORT_MODULE
	// TLSAbortNoMemory: the thread's block could not be allocated.
	TLSAbortNoMemory = C.RP_TLS_ABORT_NOMEM
)

// ErrTLSModulesFull is returned by NewTLSModule when MaxTLSModules modules
// are live.
var ErrTLSModulesFull = errors.New("sandbox: too many live TLS modules")

// TLSModule is the thread-local storage of one loaded object: each OS
// thread that asks __tls_get_addr (TLSGetAddr) for it gets its own block,
// made from the object's template on first use. Blocks live in C memory
// and are never handed to Go.
type TLSModule struct {
	id                   uint64
	image                uintptr
	filesz, memsz, align uint64

	mu     sync.Mutex
	freed  bool
	static *staticBlock // MakeStatic's block, nil for a dynamic module
}

// NewTLSModule registers a module whose block is memsz bytes aligned to
// align (a power of two; 0 means 1): the first filesz bytes are copied
// from image (the relocated PT_TLS template, read when a thread first
// touches the module, so it must stay mapped and readable until Free), the
// rest are zero. It wraps ErrTLSModulesFull when MaxTLSModules modules are
// live.
func NewTLSModule(image uintptr, filesz, memsz, align uint64) (*TLSModule, error) {
	id := C.rp_tls_register(C.uintptr_t(image), C.uint64_t(filesz), C.uint64_t(memsz), C.uint64_t(align))
	switch {
	case id == -1:
		return nil, fmt.Errorf("sandbox: register TLS module: %d live: %w", MaxTLSModules, ErrTLSModulesFull)
	case id < 0:
		return nil, fmt.Errorf("sandbox: register TLS module: filesz %#x, memsz %#x, align %#x, image %#x: invalid", filesz, memsz, align, image)
	}
	return &TLSModule{id: uint64(id), image: image, filesz: filesz, memsz: memsz, align: align}, nil
}

// ID returns the module id: the value of R_X86_64_DTPMOD64 (or
// R_AARCH64_TLS_DTPMOD64) for the object's thread-local symbols, 1 to
// MaxTLSModules.
func (m *TLSModule) ID() uint64 { return m.id }

// Generation returns the generation of the module's id: it changes each
// time a module with this id is freed, which makes threads' blocks of the
// freed module stale (they are freed and made afresh on their next use).
func (m *TLSModule) Generation() uint64 { return uint64(C.rp_tls_generation(C.uint64_t(m.id))) }

// Free retires the module and frees its id for reuse. Threads' blocks of
// the module are freed on the thread's next use of the id or when the
// thread exits; a static module's block is handed back to glibc (see
// MakeStatic). No call may be using the module (the caller's gate
// ensures it), and Free must come before the template's image is unmapped
// or made unreadable. It is safe to call twice.
func (m *TLSModule) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed {
		return
	}
	m.freed = true
	C.rp_tls_unregister(C.uint64_t(m.id))
	if m.static != nil {
		m.static.free()
		m.static = nil
	}
}

// TLSGetAddr returns the address of rp_tls_get_addr, runplug's
// __tls_get_addr: given a tls_index {module, offset}, it returns the
// calling OS thread's block of the module plus offset, making the block on
// first use. A call whose index names no live module is aborted
// (TLSAbortModule).
func TLSGetAddr() uintptr { return uintptr(C.rp_tls_get_addr_addr()) }

// TLSThreadBlocks returns the number of TLS blocks the calling OS thread
// holds (stale ones included until the thread reuses their id). Only
// meaningful while the goroutine is locked to its thread.
func TLSThreadBlocks() int { return int(C.rp_tls_thread_blocks()) }

// TLSLiveBlocks returns the number of TLS blocks all threads hold.
func TLSLiveBlocks() int { return int(C.rp_tls_live_blocks()) }

// fixtureTLSGetAddr returns a C function f(module, offset) that calls
// rp_tls_get_addr(&{module, offset}): a native caller for the tests.
func fixtureTLSGetAddr() uintptr { return uintptr(C.rp_tls_fixture_addr()) }

// notifyTLSExit makes the calling thread write, when it exits, the number
// of blocks its exit freed (an int64) to fd: the handshake of
// TestTLSThreadExitFreesBlocks.
func notifyTLSExit(fd int) { C.rp_tls_notify_exit(C.int(fd)) }
