//go:build linux && (amd64 || arm64) && cgo

package childrt

/*
#cgo CFLAGS: -O2 -Wall
#include "listen.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The states of the listener handshake (listen.h), in the shared word
// OfferListener is given.
const (
	ListenNone      = C.RP_LISTEN_NONE      // nothing yet
	ListenOffered   = C.RP_LISTEN_OFFERED   // child: the listener is its descriptor *fd
	ListenTaken     = C.RP_LISTEN_TAKEN     // host: it holds a copy; the child closes its own
	ListenRefused   = C.RP_LISTEN_REFUSED   // host: it cannot take one
	ListenNoKernel  = C.RP_LISTEN_NOKERNEL  // child: the kernel refused a listener (*fd: errno)
	ListenWithdrawn = C.RP_LISTEN_WITHDRAWN // child: it waited in vain
	ListenGone      = C.RP_LISTEN_GONE      // host: the child ended
)

// ErrNoListener is OfferListener's answer when the filter is in but the
// host did not take its listener.
var ErrNoListener = errors.New("sandbox: the host did not take the seccomp listener")

// ErrListenerRefused is OfferListener's answer when the host had said,
// before the child offered, that it cannot take a listener: no filter
// was installed.
var ErrListenerRefused = errors.New("sandbox: the host takes no seccomp listener")

// OfferListener installs prog as the process's first seccomp filter (on
// every thread), with a listener, and offers the listener to the host
// through *state and *fd (words of the memory the two share; each change
// of *state also wakes the futex waiters on *also). An errno error is
// the kernel's refusal of a listener, ErrListenerRefused the host's: no
// filter was installed. Else the offer is made, and await waits at most
// timeout for the host to take it (listen.c says why this must not be
// Go) and closes the process's copy in every case; it must be called,
// once, before any code that must not hold the listener runs.
// ErrNoListener from await: the filter is in, without a listener the
// host holds. no_new_privs must be set already.
func OfferListener(prog []unix.SockFilter, state *uint32, fd *int32, also *uint32) (await func(timeout time.Duration) error, err error) {
	if len(prog) == 0 || len(prog) > 4096 {
		return nil, fmt.Errorf("sandbox: seccomp filter of %d instructions", len(prog))
	}
	r := C.rp_offer_listener(unsafe.Pointer(&prog[0]), C.ushort(len(prog)), (*C.uint32_t)(unsafe.Pointer(state)), (*C.int32_t)(unsafe.Pointer(fd)), (*C.uint32_t)(unsafe.Pointer(also)))
	switch {
	case r == C.RP_OFFER_HOST_REFUSED:
		return nil, ErrListenerRefused
	case r < 0:
		return nil, syscall.Errno(-r)
	}
	return func(timeout time.Duration) error {
		if C.rp_await_listener(r, (*C.uint32_t)(unsafe.Pointer(state)), C.int64_t(timeout)) != 0 {
			return ErrNoListener
		}
		return nil
	}, nil
}
