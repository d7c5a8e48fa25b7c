package elfimage

import (
	"sync"

	"golang.org/x/sys/unix"
)

// cachedPageSize is read from the kernel once (the auxiliary vector's AT_PAGESZ,
// which is what sysconf(_SC_PAGESIZE) returns) and cached.
var cachedPageSize = sync.OnceValue(func() uint64 { return uint64(unix.Getpagesize()) })

// PageSize returns the system page size in bytes. It is read once and
// cached; planning, mapping and validation use it rather than a fixed 4096.
func PageSize() uint64 { return cachedPageSize() }

// pageFloor rounds v down to a multiple of the power of two ps.
func pageFloor(v, ps uint64) uint64 { return v &^ (ps - 1) }

// pageCeil rounds v up to a multiple of the power of two ps; ok is false
// when the result would not fit in a uint64.
func pageCeil(v, ps uint64) (uint64, bool) {
	r := (v + ps - 1) &^ (ps - 1)
	return r, r >= v
}
