//go:build linux && amd64 && cgo

package isolate

import (
	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The filter's rules on the calls that could reach another process or
// change what the child is: each allowed only with arguments that keep
// it inside the child (docs/ISOLATION.md, Signals).

// ownSignals are the calls that send a signal to a process or thread
// group named by its first argument: allowed towards the child alone.
// tkill (a bare thread id, any process's) and pidfd_send_signal are not
// allowed at all; glibc and the Go runtime use tgkill.
func ownSignals(pid int) []seccomp.NameWithConditions {
	self := []seccomp.Condition{{Argument: 0, Operation: seccomp.Equal, Value: uint64(pid)}}
	var out []seccomp.NameWithConditions
	for _, n := range []string{"kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"} {
		out = append(out, seccomp.NameWithConditions{Name: n, Conditions: self})
	}
	return out
}

// fcntlAllowed are the fcntl commands the child may use: descriptor
// flags, status flags, locks, pipe sizes and seals. Not among them:
// F_SETOWN, F_SETOWN_EX and F_SETSIG, which aim a descriptor's I/O
// signal at any process (an O_ASYNC pipe then kills it), and F_SETLEASE
// and F_NOTIFY.
var fcntlAllowed = []uint64{
	unix.F_DUPFD, unix.F_DUPFD_CLOEXEC, unix.F_GETFD, unix.F_SETFD, unix.F_GETFL, unix.F_SETFL,
	unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW,
	unix.F_GETOWN, unix.F_GETOWN_EX, unix.F_GETSIG,
	unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ, unix.F_ADD_SEALS, unix.F_GET_SEALS,
}

// fcntlRules allows fcntl with a command of fcntlAllowed (compared on
// all 64 bits: the kernel reads the low 32, so a command with high bits
// set is refused rather than read as another).
func fcntlRules() []seccomp.NameWithConditions {
	var out []seccomp.NameWithConditions
	for _, c := range fcntlAllowed {
		out = append(out, seccomp.NameWithConditions{Name: "fcntl",
			Conditions: []seccomp.Condition{{Argument: 1, Operation: seccomp.Equal, Value: c}}})
	}
	return out
}

// ttyQueries are the ioctls stdio makes on a standard stream (isatty's
// TCGETS, the window size): the filter answers ENOTTY, as for a stream
// that is not a terminal, instead of stopping the child. Every other
// ioctl (FIOSETOWN, SIOCSPGRP, TIOCSTI, ...) stops it.
var ttyQueries = []uint64{unix.TCGETS, unix.TIOCGWINSZ}

func ttyRules() []seccomp.NameWithConditions {
	var out []seccomp.NameWithConditions
	for _, c := range ttyQueries {
		out = append(out, seccomp.NameWithConditions{Name: "ioctl",
			Conditions: []seccomp.Condition{{Argument: 1, Operation: seccomp.Equal, Value: c}}})
	}
	return out
}

// cloneNamespaces are the clone flags that would put a new thread in new
// namespaces (or make it a sibling of the child): a thread may not have
// them.
const cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_PARENT

// threadClone allows clone for a thread of the child only.
func threadClone() seccomp.NameWithConditions {
	return seccomp.NameWithConditions{Name: "clone", Conditions: []seccomp.Condition{
		{Argument: 0, Operation: seccomp.BitsSet, Value: unix.CLONE_THREAD},
		{Argument: 0, Operation: seccomp.BitsNotSet, Value: cloneNamespaces},
	}}
}

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
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.AUDIT_ARCH_X86_64, SkipFalse: 2},
		bpf.LoadAbsolute{Off: nrOff, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit, SkipFalse: 1},
		bpf.RetConstant{Val: uint32(action)},
	}
}
