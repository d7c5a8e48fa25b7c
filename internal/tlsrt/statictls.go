package tlsrt

// The parts of static TLS and TLS descriptors that every platform
// compiles (statictls_cgo.go has the rest).

import (
	"errors"
	"fmt"
)

// OptionalStaticTLSTunable is the glibc tunable that sets the static TLS
// surplus reserved for dlopen'd objects (512 bytes by default in glibc
// 2.36), given to a program as GLIBC_TUNABLES=glibc.rtld.optional_static_tls=BYTES.
const OptionalStaticTLSTunable = "glibc.rtld.optional_static_tls"

// ErrStaticTLSFull is wrapped by the error of MakeStatic when glibc has no
// room left in the static TLS blocks (a *StaticTLSError).
//
// Its text, like StaticTLSError's, has no "sandbox:" prefix: the loader
// wraps it in a message that has its own.
var ErrStaticTLSFull = errors.New("no room left in glibc's static TLS surplus")

// StaticTLSError reports a module glibc could not give static TLS to.
type StaticTLSError struct {
	Size, Align uint64 // what the module needed
	Held        uint64 // bytes of static TLS runplug's live modules hold
	Modules     int    // how many modules hold them
	Pending     uint64 // bytes of freed modules' blocks glibc takes back once the later live ones are freed
	Tunables    string // the GLIBC_TUNABLES the program runs with ("" for none)
	Glibc       string // dlopen's error
}

// Error names the sizes and the tunable.
func (e *StaticTLSError) Error() string {
	t := "unset"
	if e.Tunables != "" {
		t = fmt.Sprintf("%q", e.Tunables)
	}
	pending := ""
	if e.Pending > 0 {
		pending = fmt.Sprintf(", and %d bytes of closed ones wait for the later ones to close", e.Pending)
	}
	return fmt.Sprintf("static TLS block of %d bytes aligned to %d: no room left in glibc's static TLS surplus "+
		"(runplug's live modules hold %d bytes in %d blocks%s; raise it with GLIBC_TUNABLES=%s=BYTES, 512 by default; GLIBC_TUNABLES is %s): glibc: %s",
		e.Size, e.Align, e.Held, e.Modules, pending, OptionalStaticTLSTunable, t, e.Glibc)
}

// Unwrap returns ErrStaticTLSFull.
func (e *StaticTLSError) Unwrap() error { return ErrStaticTLSFull }

// tlsDescModBits is the number of low bits of a dynamic TLS descriptor's
// argument that hold the module id (RP_TLSDESC_MOD_BITS in tls.h).
const tlsDescModBits = 16

// TLSDescMaxOffset bounds the offset in a dynamic module that
// TLSDescDynamicArg encodes.
const TLSDescMaxOffset = 1<<(64-tlsDescModBits) - 1
