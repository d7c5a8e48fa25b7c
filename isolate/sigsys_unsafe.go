//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigsysRecord is the address of the shared sysRecord the SIGSYS handler
// writes (read by sigsys_amd64.s, sigsys_arm64.s).
var sigsysRecord uintptr

func sigsysHandler()
func sigsysHandlerAddr() uintptr
func sigsysRestorer()
func sigsysRestorerAddr() uintptr

// kernelSigaction is struct sigaction as rt_sigaction takes it on x86-64
// and AArch64 (both have SA_RESTORER).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

const (
	saSiginfo  = 0x4
	saOnstack  = 0x08000000
	saRestorer = 0x04000000
)

// installSigsys makes a seccomp trap write its system call to rec and end
// the process. The Go runtime's own SIGSYS handler would print a crash
// report without the system call's number; the assembly handler runs
// without Go (the plugin may be anywhere, on any thread). The restorer is
// used only for a SIGSYS that is not a seccomp trap's, which the handler
// ignores (it returns); after a trap it does not return.
func installSigsys(rec *sysRecord) error {
	sigsysRecord = uintptr(unsafe.Pointer(rec))
	sa := kernelSigaction{
		handler:  sigsysHandlerAddr(),
		flags:    saSiginfo | saOnstack | saRestorer,
		restorer: sigsysRestorerAddr(),
		mask:     ^uint64(0),
	}
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGSYS), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
