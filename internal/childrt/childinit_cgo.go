//go:build linux && (amd64 || arm64) && cgo

package childrt

// The report of childinit.c's constructor, which ran before the runtime.

/*
#include "childinit.h"
*/
import "C"

import (
	"fmt"
	"syscall"
)

// ChildConfinement reports what the constructor did when EnvChildConfine
// asked it to confine the process: the Landlock ABI version of the domain
// it entered (0: the kernel has no Landlock), and the first step that
// failed, with its errno (errors.Is matches it). Not asked, it returns
// 0, nil.
func ChildConfinement() (landlock int, err error) {
	if C.rp_child_errno != 0 {
		err = fmt.Errorf("sandbox: child confinement: %s: %w", C.GoString(C.rp_child_step), syscall.Errno(C.rp_child_errno))
	}
	return int(C.rp_child_landlock), err
}

// childinitName returns childinit.h's name for EnvChildConfine and its
// ChildIDBase, which a test compares with the Go ones.
func childinitName() (string, int) { return C.RP_CHILD_ENV, C.RP_CHILD_ID_BASE }
