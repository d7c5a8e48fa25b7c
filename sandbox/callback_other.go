//go:build !(linux && amd64 && cgo)

package sandbox

import (
	"fmt"

	"github.com/runplug/runplug/internal/errs"
)

// Host callbacks need generated x86-64 thunks and cgo's callback path:
// elsewhere NewCallback fails at run time.

// mapThunkPage fails: this build has no callback entry.
func mapThunkPage(first, n uint32) (uintptr, []uint64, error) {
	return 0, nil, fmt.Errorf("callbacks need linux/amd64 built with cgo: %w", errs.ErrUnsupported)
}

func callbackEntryFor(regs int) uintptr { return 0 }

func stackArgs(a *Args) uintptr { return 0 }

func fixtureCallbackLoop(fn uintptr, n int64) int64 { return 0 }

func fixtureCallbackPair(fn uintptr, a int64, x float64) float64 { return 0 }

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
