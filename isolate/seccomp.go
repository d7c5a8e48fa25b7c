//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"fmt"
	"slices"
	"sync"

	seccomp "github.com/runplug/runplug/internal/seccomprule"
	"golang.org/x/sys/unix"
)

// DefaultSyscalls are the system calls the child may make: what the Go
// runtime of the child, runplug's loader and sandbox, and glibc functions
// a plugin commonly calls need. Not in it (and so stopping the plugin):
// execve and every other way to run a program, sockets, opening files
// after the load, signals to other processes, ptrace, mounts, namespaces,
// setuid and friends, and everything else.
var DefaultSyscalls = []string{
	// memory
	"mmap", "munmap", "mprotect", "madvise", "mremap", "brk", "mincore",
	// files already open (the channel, /dev/null, the runtime's own)
	"read", "write", "writev", "pread64", "pwrite64", "readv", "lseek", "close",
	"fstat", "newfstatat", "statx", "dup3",
	// a directory opened while opens are allowed (opendir, readdir)
	"getdents64",
	// threads, signals, time
	"futex", "sched_yield", "nanosleep", "clock_nanosleep", "clock_gettime",
	"clock_getres", "gettimeofday", "time", "getpid", "gettid", "getppid",
	"getuid", "geteuid", "getgid", "getegid", "uname", "getrandom",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"sched_getaffinity", "getrlimit", "getrusage", "sysinfo",
	"exit", "exit_group",
	// the Go runtime's poller and wake-ups
	"epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "epoll_wait",
	"eventfd2", "pipe2", "poll", "ppoll",
}

// openFlagsWrite are the open flags that write or create: a read-only
// open is allowed while the plugin loads. O_TMPFILE is __O_TMPFILE |
// O_DIRECTORY: only its own bit is tested, so that opendir's
// O_DIRECTORY open is a read-only open like any other.
const openFlagsWrite = unix.O_WRONLY | unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC | unix.O_APPEND | (unix.O_TMPFILE &^ unix.O_DIRECTORY)

// archDiff is how an architecture's system call table differs from the
// names the policy is written in (x86-64's: one definition for every
// architecture).
type archDiff struct {
	// lacks are calls the architecture does not have, each with the call
	// that replaces it there, which the same policy also names.
	lacks map[string]string
	// renames are calls the architecture's table names otherwise.
	renames map[string]string
}

// archDiffs holds an archDiff per architecture (sysArchName), built on
// first use (a host that never isolates a plugin never asks);
// TestPolicyTablesAgree fails when a table changes under them.
var archDiffs = sync.OnceValue(func() map[string]archDiff {
	return map[string]archDiff{
		"x86_64": {},
		"aarch64": { // the generic table: no legacy calls
			lacks: map[string]string{"open": "openat", "creat": "openat", "time": "clock_gettime",
				"poll": "ppoll", "epoll_wait": "epoll_pwait"},
			renames: map[string]string{"newfstatat": "fstatat"},
		},
	}
})

// forArch maps p's names to the table of the architecture d describes:
// the calls it lacks are left out, the ones it names otherwise renamed.
func forArch(p seccomp.Policy, d archDiff) seccomp.Policy {
	mapName := func(n string) (string, bool) {
		if _, ok := d.lacks[n]; ok {
			return "", false
		}
		if r, ok := d.renames[n]; ok {
			return r, true
		}
		return n, true
	}
	groups := make([]seccomp.SyscallGroup, len(p.Syscalls))
	for i, g := range p.Syscalls {
		groups[i] = seccomp.SyscallGroup{Action: g.Action}
		for _, n := range g.Names {
			if m, ok := mapName(n); ok {
				groups[i].Names = append(groups[i].Names, m)
			}
		}
		for _, nc := range g.NamesWithCondtions {
			if m, ok := mapName(nc.Name); ok {
				nc.Name = m
				groups[i].NamesWithCondtions = append(groups[i].NamesWithCondtions, nc)
			}
		}
	}
	p.Syscalls = groups
	return p
}

// loadPolicy is the child pid's filter, the one that carries the
// host's seccomp listener (listen.go): the allow list, threads (clone
// with CLONE_THREAD), signals to that process only. Anything else goes
// to the listener, which names it even when the calling thread blocks
// SIGSYS (glibc's system() and posix_spawn do). The calls the load needs
// and plugin code may not make (phaseRules) go to the listener too,
// marked notifyPhase: the host lets them through until the child
// announces the run phase with phaseMarker, and refuses them after
// (phase.go). Where the host has no listener, degrade turns the marks
// into traps (SIGSYS, reported by the handler in sigsys_amd64.s) and
// phase calls into allowed ones, and runPolicy is stacked on it at the
// switch instead.
func loadPolicy(pid, drop int, allowOpen bool, extra []string) seccomp.Policy {
	phaseNames, phaseConds := phaseRules(allowOpen, extra)
	names := slices.Clone(extra)
	for _, n := range phaseNames {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	conds := append(readOnlyOpens(),
		threadClone(),
		// The Go runtime names its anonymous mappings.
		seccomp.NameWithConditions{Name: "prctl", Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.Equal, Value: unix.PR_SET_VMA}}},
		// The barrier a closing gate runs on this process's own
		// threads (registered by sandbox's constructor, before
		// the filter; any other membarrier command: ENOSYS).
		seccomp.NameWithConditions{Name: "membarrier", Conditions: []seccomp.Condition{{Argument: 0, Operation: seccomp.Equal, Value: membarrierPrivateExpedited}}},
	)
	conds = append(conds, ownSignals(pid)...)
	conds = append(conds, fcntlRules()...)
	conds = append(conds, dropRule()) // confine_uid.go: the drop to the child's uid, before plugin code
	return seccomp.Policy{
		DefaultAction: seccomp.ActionTrap, // the listener's: see toListener
		Syscalls: []seccomp.SyscallGroup{
			// The calls every call path makes (futex, read, write,
			// ...) first: none is a phase call or the marker.
			{Action: seccomp.ActionAllow, Names: DefaultSyscalls},
			{Action: seccomp.ActionAllow, NamesWithCondtions: dropArgs(drop)},
			// Then, so that no allow rule below (a policy's extra
			// prctl or openat) takes them: the marker and the phase
			// calls, each of which the allow rules below allow.
			{Action: notifyMarker, NamesWithCondtions: []seccomp.NameWithConditions{markerRule()}},
			{Action: notifyPhase, Names: phaseNames, NamesWithCondtions: phaseConds},
			{Action: seccomp.ActionAllow, Names: names},
			{Action: seccomp.ActionAllow, NamesWithCondtions: conds},
			// glibc's pthread_create tries clone3 first and falls back
			// to clone on ENOSYS; the filter cannot read clone3's flags
			// (they are behind a pointer): the listener answers ENOSYS
			// and names a clone3 that asks for a process. Without a
			// listener it is answered ENOSYS, not trapped:
			// pthread_create calls it with every signal blocked, and a
			// trap on a thread that blocks SIGSYS kills the process.
			{Action: notifyClone3, Names: []string{"clone3"}},
			// membarrier, other than the barrier above: registering
			// from the running Go runtime costs an RCU grace period
			// (5-20 ms on a busy machine); sandbox's constructor has
			// registered while the child had one thread, and if it
			// could not, gates count calls with locked instructions.
			{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS), Names: []string{"membarrier"}},
			// stdio's questions about a standard stream.
			{Action: seccomp.ActionErrno | seccomp.Action(unix.ENOTTY), NamesWithCondtions: ttyRules()},
		},
	}
}

// loadOnly are the system calls the load needs and plugin code may not
// make unless the host's policy allows them: memfd_create (an object
// with static, initial-exec, TLS gets its room from glibc through a
// stand-in object the loader writes to a memfd: sandbox/statictls.c),
// recvmsg (a spare child receives a plugin's state file through a
// socket, state_spare.go).
var loadOnly = []string{"memfd_create", "recvmsg"}

// phaseRules are the one definition of the calls the load filter
// allows for the load alone (each is one its allow rules allow): the
// uid drop's calls and rule (confine_uid.go), loadOnly's calls the
// host's policy does not allow, seccomp (the run filter of a child
// without a listener is stacked with it), and, unless the host allows
// opens throughout, read-only opens and any open call the policy
// allows by name. loadPolicy sends them to the listener as phase calls;
// runPolicy traps them.
func phaseRules(allowOpen bool, extra []string) ([]string, []seccomp.NameWithConditions) {
	names := append([]string{"seccomp"}, dropCalls...)
	for _, n := range loadOnly {
		if !slices.Contains(extra, n) {
			names = append(names, n)
		}
	}
	conds := []seccomp.NameWithConditions{dropRule()}
	if !allowOpen {
		for _, n := range openCalls {
			if slices.Contains(extra, n) {
				names = append(names, n)
			}
		}
		conds = append(conds, readOnlyOpens()...)
	}
	return names, conds
}

// openCalls are the calls that open a file by name.
var openCalls = []string{"open", "openat", "openat2", "creat"}

// readOnlyOpens are open and openat without a flag of openFlagsWrite (an
// open that writes or creates is never allowed, openat2 and creat
// neither).
func readOnlyOpens() []seccomp.NameWithConditions {
	return []seccomp.NameWithConditions{
		{Name: "openat", Conditions: []seccomp.Condition{{Argument: 2, Operation: seccomp.BitsNotSet, Value: openFlagsWrite}}},
		{Name: "open", Conditions: []seccomp.Condition{{Argument: 1, Operation: seccomp.BitsNotSet, Value: openFlagsWrite}}},
	}
}

// runPolicy is stacked on the degraded load filter (a child without a
// listener) before the first plugin code: phaseRules's calls trap from
// then on. A child with a listener needs none: the host refuses them.
func runPolicy(drop int, allowOpen bool, extra []string) seccomp.Policy {
	names, conds := phaseRules(allowOpen, extra)
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: seccomp.ActionAllow, NamesWithCondtions: dropArgs(drop)},
			{Action: seccomp.ActionTrap, Names: names, NamesWithCondtions: conds},
		},
	}
}

// filters assembles the child pid's two filters for pol (none with
// NoSeccomp), for a child that drops to uid drop (-1: none; dropID).
// The host does it, warm, while the child starts: in the child, cold,
// assembling them took ~150 µs of its start.
func filters(pid, drop int, pol Policy) (load, run []unix.SockFilter, err error) {
	if pol.NoSeccomp {
		return nil, nil, nil
	}
	allowOpen := pol.AllowOpen || raceEnabled
	if load, err = assemble(loadPolicy(pid, drop, allowOpen, pol.Allow), seccomp.ActionTrap); err != nil {
		return nil, nil, err
	}
	load = toListener(load)
	// The run filter lets other architectures' calls through to the load
	// filter below it, which always stops them (and names them through
	// the listener).
	if run, err = assemble(runPolicy(drop, allowOpen, pol.Allow), seccomp.ActionAllow); err != nil {
		return nil, nil, err
	}
	return load, run, nil
}

// bpfMaxInsns is the kernel's limit on a filter's length (BPF_MAXINSNS).
const bpfMaxInsns = 4096

// assemble turns p into classic BPF (assembleRules), with archGuard's
// action for calls of other architectures.
func assemble(p seccomp.Policy, foreign seccomp.Action) ([]unix.SockFilter, error) {
	insts, err := assembleRules(forArch(p, archDiffs()[sysArchName]), foreign)
	if err != nil {
		return nil, fmt.Errorf("isolate: seccomp: %w", err)
	}
	if len(insts) > bpfMaxInsns {
		return nil, fmt.Errorf("isolate: seccomp: filter of %d instructions (at most %d)", len(insts), bpfMaxInsns)
	}
	prog := make([]unix.SockFilter, len(insts))
	for i, in := range insts {
		r, err := in.Assemble()
		if err != nil {
			return nil, fmt.Errorf("isolate: seccomp: %w", err)
		}
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return prog, nil
}

// checkNames refuses unknown system call names in a policy: a name is
// known when this architecture's table has it, or it is one of x86-64's
// that the architecture lacks or names otherwise (archDiffs), so that one
// policy serves every architecture.
func checkNames(names []string) error {
	d := archDiffs()[sysArchName]
	for _, n := range names {
		_, known := sysNumbers()[n]
		_, lacked := d.lacks[n]
		_, renamed := d.renames[n]
		if !known && !lacked && !renamed {
			return fmt.Errorf("isolate: policy: unknown system call %q", n)
		}
	}
	return nil
}

// membarrierPrivateExpedited is MEMBARRIER_CMD_PRIVATE_EXPEDITED
// (linux/membarrier.h), which x/sys/unix does not define.
const membarrierPrivateExpedited = 1 << 3

// notifyClone3 is the load filter's answer to clone3: the listener, told
// apart (the data bits of a user notification mean nothing to the
// kernel) so that degrade can answer ENOSYS for it where there is no
// listener.
const notifyClone3 = seccomp.ActionUserNotify | 1

// notifyPhase and notifyMarker are the load filter's answers to a phase
// call and to the marker (phase.go), told apart the same way.
const (
	notifyPhase  = seccomp.ActionUserNotify | 2
	notifyMarker = seccomp.ActionUserNotify | 3
)

// toListener sends every call prog traps to the listener instead. (The
// library takes no user notification for a policy's default action.)
func toListener(prog []unix.SockFilter) []unix.SockFilter {
	for i, in := range prog {
		if in.Code == bpfRetK && in.K == unix.SECCOMP_RET_TRAP {
			prog[i].K = unix.SECCOMP_RET_USER_NOTIF
		}
	}
	return prog
}

// degrade returns the load filter prog for a child the host has no
// listener for: every call prog sends to the listener traps instead
// (SIGSYS), but clone3, which is answered ENOSYS (see loadPolicy), and
// the phase calls, allowed (runPolicy, stacked at the switch, traps
// them). The child installs it alone, as its first filter, when the
// kernel refuses a listener or the host said before that it has none
// (listen.go).
func degrade(prog []unix.SockFilter) []unix.SockFilter {
	out := slices.Clone(prog)
	for i, in := range out {
		if in.Code != bpfRetK || in.K&unix.SECCOMP_RET_ACTION_FULL != unix.SECCOMP_RET_USER_NOTIF {
			continue
		}
		switch in.K {
		case uint32(notifyClone3):
			out[i].K = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
		case uint32(notifyPhase):
			out[i].K = unix.SECCOMP_RET_ALLOW
		default:
			out[i].K = unix.SECCOMP_RET_TRAP
		}
	}
	return out
}

// bpfRetK is a classic BPF "return constant" (BPF_RET|BPF_K).
const bpfRetK = unix.BPF_RET | unix.BPF_K
