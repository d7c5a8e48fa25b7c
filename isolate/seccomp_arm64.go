//go:build linux && cgo

package isolate

import (
	"fmt"

	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The filters are assembled for AArch64's table (zsyscalls_arm64.go, the
// generic one; there is no x32 or i386 ABI here).
var sysTable = sysAArch64[:]

const sysArchName = "aarch64"

// archGuard is put before the policy's program: a call of another
// architecture (AArch32, on a kernel with compat support) gets action
// (the listener or a trap, so that the host names it with its
// architecture; the run filter lets it through to the load filter).
func archGuard(action seccomp.Action) []bpf.Instruction {
	const archOff = 4
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: archOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AUDIT_ARCH_AARCH64, SkipTrue: 1},
		bpf.RetConstant{Val: uint32(action)},
	}
}

// nameSyscall names a trapped call from the si_arch and si_syscall the
// SIGSYS handler recorded (archGuard traps AArch32's): its architecture,
// its number in that architecture's table and its name ("" when
// unknown).
func nameSyscall(auditArch, nr uint32) (archName string, num int, name string) {
	var tab []string
	switch auditArch {
	case unix.AUDIT_ARCH_AARCH64:
		tab, archName = sysAArch64[:], "aarch64"
	case unix.AUDIT_ARCH_ARM:
		tab, archName = sysARM[:], "arm"
	default:
		return fmt.Sprintf("arch %#x", auditArch), int(int32(nr)), ""
	}
	if int(int32(nr)) >= 0 && int(int32(nr)) < len(tab) {
		name = tab[int32(nr)]
	}
	return archName, int(int32(nr)), name
}
