//go:build !(linux && (amd64 || arm64) && cgo)

package pcall

import (
	"fmt"

	"github.com/runplug/runplug/internal/errs"
)

// CallbacksSupported reports whether this build has host callbacks
// (NewCallback): linux/amd64 or linux/arm64 with cgo.
const CallbacksSupported = false

// Host callbacks need generated thunks and cgo's callback path: elsewhere
// NewCallback fails at run time.

// mapThunkPage fails: this build has no callback entry.
func mapThunkPage(first, n uint32) (uintptr, []uint64, error) {
	return 0, nil, fmt.Errorf("callbacks need linux/amd64 or linux/arm64 built with cgo: %w", errs.ErrUnsupported)
}

func callbackEntryFor(regs int) uintptr { return 0 }

func stackArgs(a *Args) uintptr { return 0 }

func fixtureCallbackLoop(fn uintptr, n int64) int64 { return 0 }

func fixtureCallbackPair(fn uintptr, a int64, x float64) float64 { return 0 }

func fixtureCallbackInt() uintptr   { return 0 }
func fixtureCallbackFloat() uintptr { return 0 }
