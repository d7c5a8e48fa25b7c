//go:build !linux

package elfimage

// No such advice off Linux: keepApartLocked gives none.
const (
	madvDontDump   = -1
	madvNoHugePage = -1
)
