//go:build linux && (amd64 || arm64) && cgo

package isolate

// This file installs a seccomp filter the host assembled: the seccomp
// system call takes the program's address. prog is a Go slice that stays
// alive (and unmoved: the Go heap does not move objects) for the call.

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// installFilter installs prog on every thread of the process (TSYNC),
// with no_new_privs set first (the first filter does it; a later one must
// not call prctl, which the first forbids).
func installFilter(prog []unix.SockFilter, first bool) error {
	if len(prog) == 0 || len(prog) > bpfMaxInsns {
		return fmt.Errorf("seccomp: filter of %d instructions", len(prog))
	}
	if first {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fp)))
	if e != 0 {
		return fmt.Errorf("seccomp: %w", e)
	}
	if r != 0 {
		// TSYNC: the thread that could not take the filter.
		return fmt.Errorf("seccomp: thread %d could not be synchronised", r)
	}
	return nil
}
