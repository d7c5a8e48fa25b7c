package isolate

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/sandbox"
)

// Options configure isolated plugins (see New).
type Options struct {
	// Policy confines the child process. The zero value is the default
	// policy: DefaultSyscalls, namespaces where the kernel permits them.
	Policy Policy
	// Channels is the number of calls one plugin serves at once (one
	// child thread each); more wait for a free channel. 0 means 4, at
	// most 64.
	Channels int
	// BufferSize is the bytes each channel has for the strings and
	// buffers of one call (Buffer, string arguments of bindings) and of
	// the host calls it makes; 0 means 60 KiB.
	BufferSize int
	// Restart restarts a failed plugin automatically (the zero value
	// never does: a failed plugin stays quarantined until
	// Plugin.Restart).
	Restart RestartPolicy
	// Spare keeps one child started ahead, its Go runtime up, waiting
	// for a plugin: a Load or Restart then only sends the request and
	// the child loads the plugin (the exec, the namespaces and the
	// runtime's start are out of the way). The Isolator's Close ends it.
	Spare bool
	// Stdout and Stderr receive the child's standard output and error
	// (what the plugin prints, a C++ terminate's what(), the Go runtime's
	// report if the child crashes outside a call), as a plugin's output
	// would reach the host's own in process; nil means the host's
	// os.Stdout and os.Stderr, io.Discard drops it. Each is written from
	// a goroutine of its own (one at a time when both are the same
	// writer), through a fixed buffer: a writer that blocks holds up the
	// plugin's writes (the pipe fills), never the host's calls, their
	// deadlines or Close, which waits at most a second for the last
	// output. C stdio in the child buffers stdout fully (a pipe, not a
	// terminal); a graceful Close flushes it.
	Stdout, Stderr io.Writer
	// Logger receives spawn, exit and restart events (silent when nil).
	Logger hclog.Logger
}

// Policy is what the child process may do.
type Policy struct {
	// Allow adds system calls (by name, x86-64 table) to the default
	// allow list, DefaultSyscalls.
	Allow []string
	// AllowOpen keeps read-only open/openat allowed after the plugin is
	// loaded (by default only its load may open files).
	AllowOpen bool
	// Memory limits the child's address space (RLIMIT_AS) in bytes; 0
	// means 8 GiB (the Go runtime reserves address space generously).
	Memory uint64
	// CPUTime limits the child's CPU time (RLIMIT_CPU, whole seconds,
	// rounded up): past it the kernel kills the child. 0 means none.
	CPUTime time.Duration
	// NoNamespaces does not try new user, network and mount namespaces.
	NoNamespaces bool
	// NoSeccomp installs no system call filter (debugging only).
	NoSeccomp bool
}

// RestartPolicy decides automatic restarts of a failed isolated plugin
// (a fault, a dead child, a deadline): the next call restarts it when
// fewer than Max restarts have happened and the backoff has passed since
// the last one; the backoff doubles with each restart up to MaxBackoff.
type RestartPolicy struct {
	Max        int           // automatic restarts allowed; 0: none
	Backoff    time.Duration // the first wait; 0: none
	MaxBackoff time.Duration // 0: 10 s
}

// Sentinel errors a host tests with errors.Is.
var (
	// ErrExited is wrapped by the error of a call whose child process
	// died (an *ExitError or a *SyscallError).
	ErrExited = errors.New("isolate: plugin process exited")
	// ErrForbiddenSyscall is wrapped by a *SyscallError.
	ErrForbiddenSyscall = errors.New("isolate: forbidden system call")
	// ErrUnsupported is returned where isolation is not available
	// (other than linux/amd64 with cgo).
	ErrUnsupported = errors.New("isolate: not supported on this platform")
	// ErrBufferTooLarge is wrapped by the error of a call whose strings
	// and buffers do not fit in a channel (Options.BufferSize).
	ErrBufferTooLarge = errors.New("isolate: buffers do not fit in the channel")
	// ErrTooDeep is wrapped by the error of a call nested in a host
	// function or callback when every channel the child has is in use
	// (the pool and the channels kept for nesting: up to 64, or fewer
	// with a large BufferSize).
	ErrTooDeep = errors.New("isolate: calls nested too deep")
	// ErrProtocol is wrapped when the child wrote something the host
	// cannot accept (a hostile or broken child); the child is killed.
	ErrProtocol = errors.New("isolate: protocol violation by the child")
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
	Nr     int     // the x86-64 system call number
	PC     uintptr // the address of the syscall instruction, in the child
}

// Error formats e as "isolate: plugin x.so (pid 123) made forbidden system call execve (59) at pc 0x7f..".
func (e *SyscallError) Error() string {
	return fmt.Sprintf("isolate: plugin %s (pid %d) made forbidden system call %s (%d) at pc %#x", e.Plugin, e.Pid, e.Name, e.Nr, e.PC)
}

// Unwrap returns ErrForbiddenSyscall and ErrExited.
func (e *SyscallError) Unwrap() []error { return []error{ErrForbiddenSyscall, ErrExited} }

// DeadlineError is the error of a call whose context was done before it
// returned: the child was killed. It matches sandbox.ErrDeadline and the
// context's error.
type DeadlineError struct {
	Plugin string
	Cause  error
}

// Error says the call was stopped.
func (e *DeadlineError) Error() string {
	return fmt.Sprintf("isolate: call into %s stopped (plugin process killed): %v", e.Plugin, e.Cause)
}

// Unwrap returns sandbox.ErrDeadline and the context's error.
func (e *DeadlineError) Unwrap() []error { return []error{sandbox.ErrDeadline, e.Cause} }

// RemoteError is an error the child returned for a load or a call: its
// message as the child wrote it, matching the loader's sentinel.
type RemoteError struct {
	Msg string
	Err error // a loader or elfmap sentinel, or nil
}

// Error returns the child's message.
func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the sentinel.
func (e *RemoteError) Unwrap() error { return e.Err }

// Report says which confinements the child processes got.
type Report struct {
	Seccomp    bool     // the system call filter is installed
	Namespaces []string // "user", "net", "mount" when new ones were made
	// Missing lists what was asked for and not available, with why.
	Missing []string
}
