package errs

import (
	"errors"
	"fmt"
	"syscall"
)

// The errors of an isolated plugin's process (package isolate names them).
var (
	// ErrExited is wrapped by the error of a call whose child process
	// died (an *ExitError or a *SyscallError).
	ErrExited = errors.New("isolate: plugin process exited")
	// ErrForbiddenSyscall is wrapped by a *SyscallError.
	ErrForbiddenSyscall = errors.New("isolate: forbidden system call")
)

// ExitError reports a child process that died during a call (or before
// it): it exited, was killed by a signal, or crashed outside the
// protection of a call.
type ExitError struct {
	Plugin string
	Pid    int
	Signal syscall.Signal // the signal that killed it, or 0
	Status int            // its exit status when Signal is 0
	// Reason says why the host killed it ("deadline", "close"), when it
	// did.
	Reason string
}

// Error formats e as "isolate: plugin faults.so (pid 123) exited with status 3".
func (e *ExitError) Error() string {
	s := fmt.Sprintf("isolate: plugin %s (pid %d) ", e.Plugin, e.Pid)
	if e.Signal != 0 {
		s += fmt.Sprintf("killed by signal %d (%s)", int(e.Signal), e.Signal)
	} else {
		s += fmt.Sprintf("exited with status %d", e.Status)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

// Unwrap returns ErrExited.
func (e *ExitError) Unwrap() error { return ErrExited }

// SyscallError reports a system call the policy forbids: the child was
// stopped at it.
type SyscallError struct {
	Plugin string
	Pid    int
	Name   string  // "execve" ("" when the number is unknown)
	Nr     int     // the system call number in Arch's table (x32's without its marker bit)
	Arch   string  // "x86_64", "x32" or "i386" (int $0x80)
	PC     uintptr // the address of the syscall instruction, in the child
	// Detail is the argument that says what the call asked for, where
	// the host read it ("flags CLONE_VM|CLONE_VFORK|SIGCHLD" of a clone
	// or clone3, the path of an execve), else "". It was read from the
	// child's registers or memory: a message, not evidence.
	Detail string
}

// Error formats e as "isolate: plugin x.so (pid 123) made forbidden system call execve (59) at pc 0x7f..",
// with the architecture before the name when it is not x86_64 ("i386 execve (11)") and the
// detail after the number ("clone3 (435), flags CLONE_VM|CLONE_VFORK, at pc ...").
func (e *SyscallError) Error() string {
	name := e.Name
	if e.Arch != "" && e.Arch != "x86_64" {
		name = e.Arch + " " + name
	}
	detail := ""
	if e.Detail != "" {
		detail = ", " + e.Detail + ","
	}
	return fmt.Sprintf("isolate: plugin %s (pid %d) made forbidden system call %s (%d)%s at pc %#x", e.Plugin, e.Pid, name, e.Nr, detail, e.PC)
}

// Unwrap returns ErrForbiddenSyscall and ErrExited.
func (e *SyscallError) Unwrap() []error { return []error{ErrForbiddenSyscall, ErrExited} }
