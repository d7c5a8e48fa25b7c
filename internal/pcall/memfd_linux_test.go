package pcall

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// memfd returns an empty memory file, closed when t ends.
func memfd(t *testing.T) (int, error) {
	fd, err := unix.MemfdCreate("sandbox-bus", 0)
	if err != nil {
		return -1, err
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return fd, nil
}
