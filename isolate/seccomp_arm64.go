//go:build linux && cgo

package isolate

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
)

// sysArch is the table the filters are assembled for: AArch64's (the
// generic one; there is no x32 or i386 ABI here).
var sysArch = arch.AARCH64

// archGuard is put before the library's program: a call of another
// architecture (AArch32, on a kernel with compat support) gets action
// (the listener or a trap, so that the host names it with its
// architecture; the run filter lets it through to the load filter).
func archGuard(action seccomp.Action) []bpf.Instruction {
	const archOff = 4
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: archOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(arch.AARCH64.ID), SkipTrue: 1},
		bpf.RetConstant{Val: uint32(action)},
	}
}

// nameSyscall names a trapped call from the si_arch and si_syscall the
// SIGSYS handler recorded (archGuard traps AArch32's): its architecture,
// its number in that architecture's table and its name ("" when
// unknown).
func nameSyscall(auditArch, nr uint32) (archName string, num int, name string) {
	var tab *arch.Info
	switch auditArch {
	case uint32(arch.AARCH64.ID):
		tab = arch.AARCH64
	case uint32(arch.ARM.ID):
		tab = arch.ARM
	default:
		return fmt.Sprintf("arch %#x", auditArch), int(int32(nr)), ""
	}
	return tab.Name, int(int32(nr)), tab.SyscallNumbers[int(int32(nr))]
}
