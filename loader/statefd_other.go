//go:build !linux

package loader

import (
	"fmt"

	"github.com/runplug/runplug/internal/elfimage"
	"golang.org/x/sys/unix"
)

// State files need memfd: elsewhere a state region is refused at run
// time (no build of the loader runs plugins off Linux).
func newStateMemfd(string) (int, error) {
	return -1, fmt.Errorf("memfd: %w", elfimage.ErrUnsupported)
}

func fdatasync(fd int) error { return unix.Fsync(fd) }
