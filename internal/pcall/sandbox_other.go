//go:build !(linux && (amd64 || arm64) && cgo)

package pcall

// The package off linux/amd64 with cgo: the same API, and every entry point
// that would run native code returns ErrPlatform, so that a host (and
// package loader) compiles everywhere and says at run time why it cannot
// load plugins. The names of callback_cgo.go and tls_cgo.go are stubbed
// here too, until their owners give them _other.go files of their own.

import (
	"context"
	"sync"
)

// Supported reports whether this build can run plugins: linux/amd64 or
// linux/arm64 with cgo.
const Supported = false

var (
	installOnce sync.Once
	installErr  error = ErrPlatform
)

func install() {}

var zeroArgs Args

type callRecord struct {
	fn    uintptr
	args  any
	nints int
	slot  uintptr
	gate  *Gate
	a, b  uint64
	info  int32
	code  int32
}

const (
	argsBlock = -1
	statusOK  = 0
)

func (r *callRecord) run() { r.info = -1 }

func callError(r *callRecord, ctx context.Context) error { return ErrPlatform }

// Call returns ErrPlatform: this build cannot run native code.
func Call(fn uintptr, a *Args) (Result, error) { return Result{}, ErrPlatform }

// CallContext returns ErrPlatform: this build cannot run native code.
func CallContext(ctx context.Context, fn uintptr, a *Args) (Result, error) {
	return Result{}, ErrPlatform
}

func callContext(ctx context.Context, fn uintptr, a *Args, gate *Gate) (Result, error) {
	return Result{}, ErrPlatform
}

func gateCloseBegin(g uintptr) int           { return 0 }
func gateBusy(g uintptr) bool                { return false }
func gateHeldHere(g uintptr) bool            { return false }
func gateMembarrier() bool                   { return false }
func membarrierAtCtor() bool                 { return false }
func setGateFallback(on bool)                {}
func hostSymbol(pc uintptr) (string, string) { return "", "" }

// GateFallback reports false: this build makes no gated calls.
func GateFallback() bool { return false }

func fixtureAdd() uintptr                       { return 0 }
func fixtureDlsym(name, version string) uintptr { return 0 }
func fixtureCall2(fn uintptr, a, b int64) int64 { return 0 }
func fixtureAbortCall() uintptr                 { return 0 }
func fixtureCallbackState() uintptr             { return 0 }
func fixtureLeaveHookArm(step int)              {}
func fixtureCallbackThenSpin() uintptr          { return 0 }
func fixtureSpinStop()                          {}
func fixtureOuterPending() int                  { return -1 }

const cgoNote = cgoNoteOther

// DeadlinePassedInCallback reports false: this build makes no calls.
func DeadlinePassedInCallback() bool { return false }

// interruptStats reports zeros: this build makes no calls.
func interruptStats() (queued, timer, retries uint64) { return 0, 0, 0 }

// LocksHeldAtRecovery returns 0: this build makes no calls.
func LocksHeldAtRecovery() uint64 { return 0 }
