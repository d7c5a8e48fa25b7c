//go:build linux && (amd64 || arm64) && cgo

package childrt

// The report of nsinit.c's constructor, which ran before the runtime.

/*
#define _GNU_SOURCE
#include <sched.h>
#include "nsinit.h"
*/
import "C"

import (
	"fmt"
	"os"
	"syscall"
)

// EarlyNamespaces reports what the constructor did when
// EnvEarlyNamespaces asked it for namespaces: the CLONE_NEW* flags it
// unshared, and why not all of them (the step and its errno, which
// errors.Is matches: EPERM where unprivileged user namespaces are
// disabled, EINVAL if the process was not single-threaded). Not asked, it
// returns 0, nil. When flags holds CLONE_NEWUSER and err is not nil, the
// namespaces exist but the uid or gid map could not be written.
func EarlyNamespaces() (flags int, err error) {
	if C.rp_ns_errno != 0 {
		err = fmt.Errorf("sandbox: early namespaces (%#x): %s: %w", int(C.rp_ns_asked), C.GoString(C.rp_ns_step), syscall.Errno(C.rp_ns_errno))
	}
	return int(C.rp_ns_flags), err
}

// nsinitNames returns nsinit.h's names for EnvEarlyNamespaces, ExitOrphan
// and ExitLost, which a test compares with the Go ones.
func nsinitNames() (string, int, int) { return C.RP_NS_ENV, C.RP_NS_EXIT_ORPHAN, C.RP_NS_EXIT_LOST }

// HostPid returns this process's pid as the host that started it sees it:
// in a PID namespace of its own (pidns.c) the process is pid 2 there, and
// the host knows it by the pid of the process that waits for the
// namespace. Elsewhere, its own pid.
func HostPid() int {
	if C.rp_ns_flags&C.CLONE_NEWPID != 0 {
		return int(C.rp_ns_hostpid)
	}
	return os.Getpid()
}

// EarlyNamespacesAsked returns the CLONE_NEW* flags EnvEarlyNamespaces
// asked for (0: not asked), whatever the constructor made of them.
func EarlyNamespacesAsked() int { return int(C.rp_ns_asked) }

// ProcMount reports whether the constructor mounted a procfs of the
// child's PID namespace on /proc (pidns.c): nil when it did or no PID
// namespace was made, else why not (errors.Is matches the errno), in
// which case /proc is the host's.
func ProcMount() error {
	if C.rp_ns_flags&C.CLONE_NEWPID == 0 || C.rp_ns_proc_errno == 0 {
		return nil
	}
	return fmt.Errorf("sandbox: /proc of the PID namespace not mounted: %w", syscall.Errno(C.rp_ns_proc_errno))
}
