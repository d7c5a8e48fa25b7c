package seccomprule

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestActionsAreTheKernels: the actions written out in rule.go are the
// kernel's values as x/sys/unix has them.
func TestActionsAreTheKernels(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  Action
		want uint32
	}{
		{"ActionTrap", ActionTrap, unix.SECCOMP_RET_TRAP},
		{"ActionErrno", ActionErrno, unix.SECCOMP_RET_ERRNO},
		{"ActionUserNotify", ActionUserNotify, unix.SECCOMP_RET_USER_NOTIF},
		{"ActionAllow", ActionAllow, unix.SECCOMP_RET_ALLOW},
	} {
		if uint32(tc.got) != tc.want {
			t.Errorf("%s = %#x, want %#x", tc.name, uint32(tc.got), tc.want)
		}
	}
}
