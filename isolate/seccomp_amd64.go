//go:build linux && cgo

package isolate

import (
	"fmt"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
)

// sysArch is the table the filters are assembled for: x86-64's.
var sysArch = arch.X86_64

// x32Bit marks an x32 system call number (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// archGuard is put before the library's program: a call of another
// architecture (i386 through int $0x80) or of the x32 ABI gets action (the
// listener or a trap, so that the host names it with its architecture;
// the run filter lets them through to the load filter). (The library's
// own prologue answers x32 with ENOSYS and would not name it.)
func archGuard(action seccomp.Action) []bpf.Instruction {
	const archOff, nrOff = 4, 0
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: archOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(arch.X86_64.ID), SkipFalse: 2},
		bpf.LoadAbsolute{Off: nrOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit, SkipFalse: 1},
		bpf.RetConstant{Val: uint32(action)},
	}
}

// nameSyscall names a trapped call from the si_arch and si_syscall the
// SIGSYS handler recorded (archGuard traps the i386 and x32 ones): its
// architecture, its number in that architecture's table and its name
// ("" when unknown).
func nameSyscall(auditArch, nr uint32) (archName string, num int, name string) {
	tab := arch.X86_64
	switch {
	case auditArch == uint32(arch.I386.ID):
		tab = arch.I386
	case auditArch != uint32(arch.X86_64.ID):
		return fmt.Sprintf("arch %#x", auditArch), int(int32(nr)), ""
	case nr&x32Bit != 0:
		tab, nr = arch.X32, nr&^x32Bit
	}
	return tab.Name, int(int32(nr)), tab.SyscallNumbers[int(int32(nr))]
}
