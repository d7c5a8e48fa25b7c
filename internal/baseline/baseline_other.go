//go:build !(linux && amd64 && cgo)

package baseline

// The baselines off linux/amd64 with cgo: nothing runs.

import (
	"fmt"

	"github.com/runplug/runplug/internal/errs"
)

// ErrSystemLibraryClosed is returned by a closed SystemLibrary.
var ErrSystemLibraryClosed = fmt.Errorf("sandbox: system library closed")

// SystemLibrary is a library opened by the system loader; this build opens
// none.
type SystemLibrary struct{ path string }

// DlopenNow returns errs.ErrUnsupported.
func DlopenNow(path string) (*SystemLibrary, error) {
	return nil, fmt.Errorf("sandbox: dlopen %s: %w", path, errs.ErrUnsupported)
}

// IsLoaded reports false.
func IsLoaded(path string) bool { return false }

// Path returns the path the library was opened with.
func (l *SystemLibrary) Path() string { return l.path }

// Dlsym returns errs.ErrUnsupported.
func (l *SystemLibrary) Dlsym(name string) (uintptr, error) { return 0, errs.ErrUnsupported }

// Close returns nil.
func (l *SystemLibrary) Close() error { return nil }

// CallUnprotected2 panics: this build cannot run native code.
func CallUnprotected2(fn uintptr, a, b int64) int64 { panic(errs.ErrUnsupported) }

// LoopUnprotected panics: this build cannot run native code. (The
// callback benchmarks' baseline, see baseline_cgo.go.)
func LoopUnprotected(fn uintptr, n int64) int64 { panic(errs.ErrUnsupported) }

// LoopExport panics: this build cannot run native code.
func LoopExport(n int64) int64 { panic(errs.ErrUnsupported) }

// FaultLoop is the kernel's fault round trip (baseline_cgo.go): only on
// linux/amd64.
func FaultLoop(n int64) int64 { panic(errs.ErrUnsupported) }

// LoopExportHandle panics: this build cannot run native code.
func LoopExportHandle(fn func(a, b int64) int64, n int64) int64 { panic(errs.ErrUnsupported) }

// LoopExportRecover panics: this build cannot run native code.
func LoopExportRecover(n int64) int64 { panic(errs.ErrUnsupported) }

// ExportAddAddr returns 0: this build cannot run native code.
func ExportAddAddr() uintptr { return 0 }

// CallUnprotectedS24 panics: this build cannot run native code.
func CallUnprotectedS24(fn uintptr, s S24) S24 { panic(errs.ErrUnsupported) }
