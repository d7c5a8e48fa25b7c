package isolate

import (
	"errors"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/errs"
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
	// With CAP_SYS_NICE the spare starts and waits at idle CPU priority
	// (SCHED_IDLE) and is raised when a load takes it.
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
	// Allow adds system calls (by name, x86-64 table: on AArch64 a
	// legacy call it lacks is left out, see the package doc) to the default
	// allow list, DefaultSyscalls.
	Allow []string
	// AllowOpen keeps read-only open/openat allowed after the plugin is
	// loaded (by default only its load may open files).
	AllowOpen bool
	// Memory limits the child's address space (RLIMIT_AS) in bytes, and
	// as much the size of any file it writes (RLIMIT_FSIZE: a memfd's or
	// tmpfs file's pages count against Memory); 0 means DefaultMemory.
	// Too small a figure fails the load with an error giving the least
	// that would do.
	Memory uint64
	// Threads limits the child's threads (RLIMIT_NPROC, counted for the
	// child alone: a root host's child runs as a uid of its own, an
	// unprivileged host's in a user namespace of its own; and pids.max
	// where it has a cgroup, Report.Cgroup); 0 means DefaultThreads.
	// Below what the child's runtime and channels need (minThreads) the
	// load fails with ErrPolicyTooSmall and the figure. Without a user namespace an unprivileged host's
	// child shares its uid, and no limit is set (Report.Missing says so).
	Threads int
	// CPUTime limits the CPU time of the child's whole life (RLIMIT_CPU,
	// whole seconds, rounded up): past it the kernel kills the child and
	// the error says so. 0 means one hour (a thread the plugin leaves
	// spinning is stopped within the hour: docs/ISOLATION.md, Resources,
	// has the reasoning); a negative figure means no limit, for a
	// long-lived busy plugin (or a RestartPolicy that replaces it).
	CPUTime time.Duration
	// NoNamespaces does not try new user, network, mount, IPC and UTS
	// namespaces (the child loses what fallbackLoses says; the Report's
	// Missing says it too).
	NoNamespaces bool
	// NamespaceFallback runs the child without the namespaces the kernel
	// refuses (unprivileged user namespaces disabled, say) instead of
	// failing the load with ErrNoNamespaces; the Report says what is
	// missing and the log warns once.
	NamespaceFallback bool
	// NoSeccomp installs no system call filter (debugging only).
	NoSeccomp bool
}

// Defaults of Policy's limits (docs/ISOLATION.md, Resources).
const (
	// DefaultMemory is the child's address space when Policy.Memory is
	// 0: the Go runtime reserves address space generously.
	DefaultMemory = 8 << 30
	// DefaultThreads is the child's thread limit when Policy.Threads is
	// 0: its runtime's threads, one per channel, and the plugin's.
	DefaultThreads = 256
)

// defaultCPUTime is the child's CPU time when Policy.CPUTime is 0.
const defaultCPUTime = time.Hour

// cpuTime is the CPU time limit pol gives (0: none).
func cpuTime(pol Policy) time.Duration {
	switch {
	case pol.CPUTime < 0:
		return 0
	case pol.CPUTime == 0:
		return defaultCPUTime
	}
	return pol.CPUTime
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
	ErrExited = errs.ErrExited
	// ErrForbiddenSyscall is wrapped by a *SyscallError.
	ErrForbiddenSyscall = errs.ErrForbiddenSyscall
	// ErrBufferTooLarge is wrapped by the error of a call whose strings
	// and buffers do not fit in a channel (Options.BufferSize).
	ErrBufferTooLarge = errors.New("isolate: buffers do not fit in the channel")
	// ErrNoNamespaces is wrapped by the error of a load whose child
	// could not make the namespaces it was asked for, without
	// Policy.NamespaceFallback.
	ErrNoNamespaces = errors.New("isolate: namespaces not available")
	// ErrTooDeep is wrapped by the error of a call nested in a host
	// function or callback when every channel the child has is in use
	// (the pool and the channels kept for nesting: up to 64, or fewer
	// with a large BufferSize).
	ErrTooDeep = errors.New("isolate: calls nested too deep")
	// ErrPolicyTooSmall is wrapped by the error of a load whose Policy
	// leaves the child too little to start (Memory, Threads); the
	// message gives the least figure that would do.
	ErrPolicyTooSmall = errors.New("isolate: policy too small to start the child")
	// ErrProtocol is wrapped when the child wrote something the host
	// cannot accept (a hostile or broken child); the child is killed.
	ErrProtocol = errors.New("isolate: protocol violation by the child")
)

type (
	// ExitError reports a child process that died during a call (or
	// before it): it exited, was killed by a signal, or crashed outside
	// the protection of a call. It matches ErrExited.
	ExitError = errs.ExitError
	// SyscallError reports a system call the policy forbids: the child
	// was stopped at it. It matches ErrForbiddenSyscall and ErrExited.
	SyscallError = errs.SyscallError
)

// Report says which confinements the child processes got.
type Report struct {
	Seccomp    bool     // the system call filter is installed
	Namespaces []string // "user", "net", "mount" when new ones were made
	// UID is the uid a root host's child runs as once its files are open
	// (a uid of its own; 0 when it keeps the host's, in a user namespace
	// of its own unless NoNamespaces).
	UID int
	// Landlock is the Landlock ABI version of the child's domain (0: the
	// kernel has no Landlock).
	Landlock int
	// Cgroup is the cgroup v2 directory under which each child runs in
	// a cgroup of its own, bounding its memory (memory.max: Memory,
	// tmpfs and memfd pages included) and tasks (pids.max: Threads and
	// the PID namespace's two waiters); "" when there is none (cgroup
	// v1, no delegation, a read-only /sys/fs/cgroup: Missing says why,
	// and the rlimits alone apply).
	Cgroup string
	// Missing lists what was asked for and not available, with why.
	Missing []string
}

// fallbackLoses is what a child without namespaces loses, for errors,
// the log and the Report.
const fallbackLoses = "it shares the host's mount, IPC and UTS namespaces and, for an unprivileged host, its uid and network namespace, and its thread limit is not set"
