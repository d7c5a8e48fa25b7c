//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/sys/unix"
)

// The filter's rules on the calls that could reach another process or
// change what the child is: each allowed only with arguments that keep
// it inside the child (docs/ISOLATION.md, Signals).

// ownSignals are the calls that send a signal to a process or thread
// group named by its first argument: allowed towards the child alone.
// tkill (a bare thread id, any process's) and pidfd_send_signal are not
// allowed at all; glibc and the Go runtime use tgkill. The two that
// carry a siginfo of the caller's making never with SIGSYS (notSigsys).
func ownSignals(pid int) []seccomp.NameWithConditions {
	self := seccomp.Condition{Argument: 0, Operation: seccomp.Equal, Value: uint64(pid)}
	out := []seccomp.NameWithConditions{
		{Name: "kill", Conditions: []seccomp.Condition{self}},
		{Name: "tgkill", Conditions: []seccomp.Condition{self}},
	}
	for _, q := range []struct {
		name string
		sig  uint32 // the signal's argument
	}{{"rt_sigqueueinfo", 1}, {"rt_tgsigqueueinfo", 2}} {
		for _, c := range notSigsys(q.sig) {
			out = append(out, seccomp.NameWithConditions{Name: q.name, Conditions: []seccomp.Condition{self, c}})
		}
	}
	return out
}

// notSigsys are conditions, any one of which holds exactly when argument
// arg's low 32 bits (the int the kernel reads as the signal) are not
// SIGSYS (31: bits 0-4 set, 5-31 clear). A process may queue itself a
// siginfo of its own making, si_code included (the kernel refuses that
// only towards another process), so rt_sigqueueinfo and
// rt_tgsigqueueinfo with SIGSYS could forge a seccomp trap's siginfo,
// naming any call, for the child's SIGSYS handler to report; the filter
// refuses them (and the listener names the call that was made). The
// handler ignores any other SIGSYS that is not a trap's (a kill or
// tgkill of its own, whose si_code the kernel sets: sigsys_amd64.s).
func notSigsys(arg uint32) []seccomp.Condition {
	out := []seccomp.Condition{{Argument: arg, Operation: seccomp.BitsSet, Value: 0xffffffff &^ uint64(unix.SIGSYS)}}
	for b := uint64(1); b <= 16; b <<= 1 {
		out = append(out, seccomp.Condition{Argument: arg, Operation: seccomp.BitsNotSet, Value: b})
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
