//go:build linux && cgo

package isolate

import "github.com/elastic/go-seccomp-bpf/arch"

// nameSyscallCases (TestNameSyscall): the x86-64 number of an i386 call
// names another call; an AArch64 call is named by its architecture only.
var nameSyscallCases = []nameSyscallCase{
	{uint32(arch.X86_64.ID), 59, "x86_64", "execve", 59},
	{uint32(arch.X86_64.ID), x32Bit | 39, "x32", "getpid", 39},
	{uint32(arch.I386.ID), 11, "i386", "execve", 11},
	{uint32(arch.I386.ID), 20, "i386", "getpid", 20},
	{0xc00000b7, 1, "arch 0xc00000b7", "", 1}, // aarch64: no table here
}
