//go:build !(linux && amd64 && cgo)

package sandbox

import (
	"errors"
	"fmt"
)

// Host callbacks need generated x86-64 thunks and cgo's callback path:
// elsewhere NewCallback fails at run time.

// mapThunkPage fails: this build has no callback entry.
func mapThunkPage(first, n uint32) (uintptr, error) {
	return 0, fmt.Errorf("callbacks need linux/amd64 built with cgo: %w", errors.ErrUnsupported)
}

func fixtureCallbackLoop(fn uintptr, n int64) int64 { return 0 }
