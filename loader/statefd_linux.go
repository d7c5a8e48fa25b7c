package loader

import "golang.org/x/sys/unix"

// newStateMemfd makes the memfd that holds a plugin's state when the host
// names no state file.
func newStateMemfd(name string) (int, error) {
	return unix.MemfdCreate(name, unix.MFD_CLOEXEC)
}

// fdatasync makes a state file's written bytes durable.
func fdatasync(fd int) error { return unix.Fdatasync(fd) }
