package elfimage

import "golang.org/x/sys/unix"

// The madvise advice keepApartLocked gives (see there).
const (
	madvDontDump   = unix.MADV_DONTDUMP
	madvNoHugePage = unix.MADV_NOHUGEPAGE
)
