//go:build linux && cgo

package isolate

import (
	"fmt"

	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The filters are assembled for x86-64's table (zsyscalls_amd64.go).
var sysTable = sysX86_64[:]

const sysArchName = "x86_64"

// x32Bit marks an x32 system call number (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// archGuard is put before the policy's program: a call of another
// architecture (i386 through int $0x80) or of the x32 ABI gets action (the
// listener or a trap, so that the host names it with its architecture;
// the run filter lets them through to the load filter).
func archGuard(action seccomp.Action) []bpf.Instruction {
	const archOff, nrOff = 4, 0
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: archOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AUDIT_ARCH_X86_64, SkipFalse: 2},
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
	tab, archName := sysX86_64[:], "x86_64"
	switch {
	case auditArch == unix.AUDIT_ARCH_I386:
		tab, archName = sysI386[:], "i386"
	case auditArch != unix.AUDIT_ARCH_X86_64:
		return fmt.Sprintf("arch %#x", auditArch), int(int32(nr)), ""
	case nr&x32Bit != 0:
		tab, archName, nr = sysX32[:], "x32", nr&^x32Bit
	}
	if int(int32(nr)) >= 0 && int(int32(nr)) < len(tab) {
		name = tab[int32(nr)]
	}
	return archName, int(int32(nr)), name
}
