//go:build linux && cgo

package isolate

import "github.com/elastic/go-seccomp-bpf/arch"

// nameSyscallCases (TestNameSyscall): AArch32's numbers name other calls
// than AArch64's; an x86-64 call is named by its architecture only.
var nameSyscallCases = []nameSyscallCase{
	{uint32(arch.AARCH64.ID), 221, "aarch64", "execve", 221},
	{uint32(arch.AARCH64.ID), 172, "aarch64", "getpid", 172},
	{uint32(arch.ARM.ID), 11, "arm", "execve", 11},
	{uint32(arch.X86_64.ID), 59, "arch 0xc000003e", "", 59},
}
