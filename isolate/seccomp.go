//go:build linux && amd64 && cgo

package isolate

import (
	"fmt"
	"slices"

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

// nameSyscall names a trapped call from the si_arch and si_syscall the
// SIGSYS handler recorded (archGuard traps the i386 and x32 ones): its
// architecture, its number in that architecture's table and its name
// ("" when unknown).
func nameSyscall(auditArch, nr uint32) (archName string, num int, name string) {
	tab, archName := sysX86_64[:], "x86_64"
	switch {
	case auditArch == unix.AUDIT_ARCH_I386:
		tab, archName = sysI386[:], "i386"
	case auditArch != unix.AUDIT_ARCH_X86_64:
		return fmt.Sprintf("arch %#x", auditArch), int(int32(nr)), ""
	case nr&x32Bit != 0:
		tab, archName, nr = sysX32[:], "x32", nr&^x32Bit
	}
	if int(int32(nr)) >= 0 && int(int32(nr)) < len(tab) {
		name = tab[int32(nr)]
	}
	return archName, int(int32(nr)), name
}

// loadPolicy is the filter installed before the plugin is loaded in the
// child pid: the allow list, read-only opens, threads (clone with
// CLONE_THREAD), signals to that process only. Anything else goes to the
// host's seccomp listener (listen.go), which names it even when the
// calling thread blocks SIGSYS (glibc's system() and posix_spawn do);
// where the host has no listener, degrade turns it into a trap (SIGSYS,
// reported by the handler in sigsys_amd64.s).
func loadPolicy(pid int, extra []string) policy {
	allowed := append(append([]string(nil), DefaultSyscalls...), extra...)
	// seccomp: the run filter is stacked after the load (a filter can
	// only take rights away; runPolicy forbids seccomp again).
	allowed = append(allowed, "seccomp")
	// memfd_create: an object with static (initial-exec) TLS gets its room
	// from glibc through a stand-in object the loader writes to a memfd
	// (sandbox/statictls.c); only while loading, like read-only opens.
	// recvmsg: a spare child receives a plugin's state file through a
	// socket (state_spare.go), before the plugin loads.
	for _, n := range append(loadOnly, dropCalls...) {
		if !slices.Contains(allowed, n) {
			allowed = append(allowed, n)
		}
	}
	conds := []rule{
		{"openat", []cond{{2, opBitsNotSet, openFlagsWrite}}},
		{"open", []cond{{1, opBitsNotSet, openFlagsWrite}}},
		threadClone(),
		// The Go runtime names its anonymous mappings.
		{"prctl", []cond{{0, opEqual, unix.PR_SET_VMA}}},
		// The barrier a closing gate runs on this process's own
		// threads (registered by sandbox's constructor, before
		// the filter; any other membarrier command: ENOSYS).
		{"membarrier", []cond{{0, opEqual, membarrierPrivateExpedited}}},
	}
	conds = append(conds, ownSignals(pid)...)
	conds = append(conds, fcntlRules()...)
	conds = append(conds, dropRule()) // confine_uid.go: the drop to the child's uid, before plugin code
	return policy{
		def: unix.SECCOMP_RET_TRAP, // the listener's: see toListener
		groups: []group{
			{unix.SECCOMP_RET_ALLOW, names(allowed...)},
			{unix.SECCOMP_RET_ALLOW, conds},
			// glibc's pthread_create tries clone3 first and falls back
			// to clone on ENOSYS; the filter cannot read clone3's flags
			// (they are behind a pointer): the listener answers ENOSYS
			// and names a clone3 that asks for a process. Without a
			// listener it is answered ENOSYS, not trapped:
			// pthread_create calls it with every signal blocked, and a
			// trap on a thread that blocks SIGSYS kills the process.
			{notifyClone3, names("clone3")},
			// membarrier, other than the barrier above: registering
			// from the running Go runtime costs an RCU grace period
			// (5-20 ms on a busy machine); sandbox's constructor has
			// registered while the child had one thread, and if it
			// could not, gates count calls with locked instructions.
			{unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS), names("membarrier")},
			// stdio's questions about a standard stream.
			{unix.SECCOMP_RET_ERRNO | uint32(unix.ENOTTY), ttyRules()},
		},
	}
}

// loadOnly are the system calls loadPolicy allows for the load alone;
// runPolicy takes them away again unless the host's policy allows them.
var loadOnly = []string{"memfd_create", "recvmsg"}

// runPolicy is stacked on loadPolicy before the first plugin code (the
// child's tighten): opens (unless the host allowed them), the load-only
// calls the host did not allow, the uid drop's calls and seccomp trap
// from then on.
func runPolicy(allowOpen bool, extra []string) policy {
	trapped := append([]string{"seccomp"}, dropCalls...)
	for _, n := range loadOnly {
		if !slices.Contains(extra, n) {
			trapped = append(trapped, n)
		}
	}
	if !allowOpen {
		trapped = append(trapped, "open", "openat", "openat2", "creat")
	}
	return policy{
		def: unix.SECCOMP_RET_ALLOW,
		groups: []group{{unix.SECCOMP_RET_TRAP, append(names(trapped...),
			rule{"prctl", []cond{{0, opEqual, unix.PR_SET_PDEATHSIG}}})}},
	}
}

// filters assembles the child pid's two filters for pol (none with
// NoSeccomp). The host does it, warm, while the child starts: in the
// child, cold, assembling them took ~150 µs of its start.
func filters(pid int, pol Policy) (load, run []unix.SockFilter, err error) {
	if pol.NoSeccomp {
		return nil, nil, nil
	}
	if load, err = loadPolicy(pid, pol.Allow).assemble(unix.SECCOMP_RET_TRAP); err != nil {
		return nil, nil, err
	}
	load = toListener(load)
	// The run filter lets other architectures' calls through to the load
	// filter below it, which always stops them (and names them through
	// the listener).
	if run, err = runPolicy(pol.AllowOpen || raceEnabled, pol.Allow).assemble(unix.SECCOMP_RET_ALLOW); err != nil {
		return nil, nil, err
	}
	return load, run, nil
}

// bpfMaxInsns is the kernel's limit on a filter's length (BPF_MAXINSNS).
const bpfMaxInsns = 4096

// membarrierPrivateExpedited is MEMBARRIER_CMD_PRIVATE_EXPEDITED
// (linux/membarrier.h), which x/sys/unix does not define.
const membarrierPrivateExpedited = 1 << 3

// notifyClone3 is the load filter's answer to clone3: the listener, told
// apart (the data bits of a user notification mean nothing to the
// kernel) so that degrade can answer ENOSYS for it where there is no
// listener.
const notifyClone3 = unix.SECCOMP_RET_USER_NOTIF | 1

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
// (SIGSYS), but clone3, which is answered ENOSYS (see loadPolicy). The
// child installs it alone when the kernel refuses a listener, or on top
// of prog when the host could not take it (a trap and an errno take
// precedence over a user notification).
func degrade(prog []unix.SockFilter) []unix.SockFilter {
	out := slices.Clone(prog)
	for i, in := range out {
		if in.Code != bpfRetK || in.K&unix.SECCOMP_RET_ACTION_FULL != unix.SECCOMP_RET_USER_NOTIF {
			continue
		}
		if in.K == uint32(notifyClone3) {
			out[i].K = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
		} else {
			out[i].K = unix.SECCOMP_RET_TRAP
		}
	}
	return out
}

// bpfRetK is a classic BPF "return constant" (BPF_RET|BPF_K).
const bpfRetK = unix.BPF_RET | unix.BPF_K
