//go:build linux && amd64 && cgo

package isolate

import (
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// TestNameSyscall: a trapped call is named from its architecture's table
// (the x86-64 number of an i386 call names another call).
func TestNameSyscall(t *testing.T) {
	for _, tt := range []struct {
		arch, nr   uint32
		want, name string
		num        int
	}{
		{uint32(arch.X86_64.ID), 59, "x86_64", "execve", 59},
		{uint32(arch.X86_64.ID), x32Bit | 39, "x32", "getpid", 39},
		{uint32(arch.I386.ID), 11, "i386", "execve", 11},
		{uint32(arch.I386.ID), 20, "i386", "getpid", 20},
		{0xc00000b7, 1, "arch 0xc00000b7", "", 1}, // aarch64: no table here
	} {
		a, num, name := nameSyscall(tt.arch, tt.nr)
		if a != tt.want || num != tt.num || name != tt.name {
			t.Errorf("nameSyscall(%#x, %#x) = %q, %d, %q; want %q, %d, %q", tt.arch, tt.nr, a, num, name, tt.want, tt.num, tt.name)
		}
	}
}
