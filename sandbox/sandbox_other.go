//go:build !(linux && amd64 && cgo)

package sandbox

// The package off linux/amd64 with cgo: the same API, and every entry point
// that would run native code returns ErrUnsupported, so that a host (and
// package loader) compiles everywhere and says at run time why it cannot
// load plugins. The names of callback_cgo.go and tls_cgo.go are stubbed
// here too, until their owners give them _other.go files of their own.

import (
	"context"
	"fmt"
	"sync"
)

// Supported reports whether this build can run plugins: linux/amd64 with cgo.
const Supported = false

var (
	installOnce sync.Once
	installErr  error = ErrUnsupported
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

func callError(r *callRecord, ctx context.Context) error { return ErrUnsupported }

// Call returns ErrUnsupported: this build cannot run native code.
func Call(fn uintptr, a *Args) (Result, error) { return Result{}, ErrUnsupported }

// CallContext returns ErrUnsupported: this build cannot run native code.
func CallContext(ctx context.Context, fn uintptr, a *Args) (Result, error) {
	return Result{}, ErrUnsupported
}

func callContext(ctx context.Context, fn uintptr, a *Args, gate *Gate) (Result, error) {
	return Result{}, ErrUnsupported
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

// HostLibrary is a C library loaded in the host process; this build has
// none.
type HostLibrary struct{ name string }

// OpenHostLibrary returns ErrUnsupported (wrapped with ErrNotHostLibrary).
func OpenHostLibrary(soname string) (*HostLibrary, error) {
	return nil, fmt.Errorf("sandbox: open host library %q: %w: %w", soname, ErrNotHostLibrary, ErrUnsupported)
}

// Name returns the library's soname.
func (h *HostLibrary) Name() string { return h.name }

// Lookup finds nothing in this build.
func (h *HostLibrary) Lookup(name, version string) (uintptr, bool) { return 0, false }

// HostLibraryNames returns none in this build.
func HostLibraryNames() []string { return nil }

// ProcessArgs returns zeros in this build.
func ProcessArgs() (argc, argv, envp uintptr) { return 0, 0, 0 }

func fixtureAdd() uintptr                       { return 0 }
func fixtureCall2(fn uintptr, a, b int64) int64 { return 0 }
func fixtureAbortCall() uintptr                 { return 0 }
func fixtureCallbackState() uintptr             { return 0 }
func fixtureCallbackInt() uintptr               { return 0 }
func fixtureCallbackFloat() uintptr             { return 0 }
func fixtureTLSGetAddr() uintptr                { return 0 }
func fixtureLeaveHookArm(step int)              {}
func fixtureCallbackThenSpin() uintptr          { return 0 }
func fixtureSpinStop()                          {}
func fixtureOuterPending() int                  { return -1 }

// ErrSystemLibraryClosed is returned by a closed SystemLibrary.
var ErrSystemLibraryClosed = fmt.Errorf("sandbox: system library closed")

// SystemLibrary is a library opened by the system loader; this build opens
// none.
type SystemLibrary struct{ path string }

// DlopenNow returns ErrUnsupported.
func DlopenNow(path string) (*SystemLibrary, error) {
	return nil, fmt.Errorf("sandbox: dlopen %s: %w", path, ErrUnsupported)
}

// IsLoaded reports false.
func IsLoaded(path string) bool { return false }

// Path returns the path the library was opened with.
func (l *SystemLibrary) Path() string { return l.path }

// Dlsym returns ErrUnsupported.
func (l *SystemLibrary) Dlsym(name string) (uintptr, error) { return 0, ErrUnsupported }

// Close returns nil.
func (l *SystemLibrary) Close() error { return nil }

// CallUnprotected2 panics: this build cannot run native code.
func CallUnprotected2(fn uintptr, a, b int64) int64 { panic(ErrUnsupported) }

// MaxTLSModules is the number of TLS modules that can be live at once.
const MaxTLSModules = 4096

// Abort codes of a call whose plugin code asked __tls_get_addr for
// something it cannot serve.
const (
	TLSAbortModule   = 0x544c5301
	TLSAbortNoMemory = 0x544c5302
)

// ErrTLSModulesFull is returned by NewTLSModule when MaxTLSModules modules
// are live.
var ErrTLSModulesFull = fmt.Errorf("sandbox: too many live TLS modules")

// TLSModule is the thread-local storage of one loaded object.
type TLSModule struct{ id uint64 }

// NewTLSModule returns ErrUnsupported.
func NewTLSModule(image uintptr, filesz, memsz, align uint64) (*TLSModule, error) {
	return nil, fmt.Errorf("sandbox: register TLS module: %w", ErrUnsupported)
}

// ID returns the module id.
func (m *TLSModule) ID() uint64 { return m.id }

// Generation returns 0.
func (m *TLSModule) Generation() uint64 { return 0 }

// Free does nothing.
func (m *TLSModule) Free() {}

// TLSGetAddr returns 0.
func TLSGetAddr() uintptr { return 0 }

// TLSThreadBlocks returns 0.
func TLSThreadBlocks() int { return 0 }

// TLSLiveBlocks returns 0.
func TLSLiveBlocks() int { return 0 }

// cgoNote completes ErrUnsupported's message.
const cgoNote = cgoNoteOther

// DeadlinePassedInCallback reports false: this build makes no calls.
func DeadlinePassedInCallback() bool { return false }

// InterruptStats reports zeros: this build makes no calls.
func InterruptStats() (queued, timer, retries uint64) { return 0, 0, 0 }

// LocksHeldAtRecovery returns 0: this build makes no calls.
func LocksHeldAtRecovery() uint64 { return 0 }
