//go:build linux && (amd64 || arm64) && cgo

// pidns.c: an isolated child in a PID namespace of its own, as a real
// init would run it. The first process of a PID namespace is its init:
// the kernel ignores every signal sent to it from inside the namespace
// that it has no handler for (its own SIGKILL, abort's SIGABRT, the Go
// runtime's re-raised crash signal), and orphans of the namespace become
// its children. The plugin's process must not be that one: its own
// signals must end it, and its exit status must reach the host exactly.
//
// So, after unshare(CLONE_NEWPID) (nsinit.c), which moves only the
// caller's later children into the namespace, this process (the host's
// child: the pid the host knows, waits on and kills) makes two children:
//   - the namespace's init (pid 1), a reaper, cloned with CLONE_VM: it
//     runs a few raw system calls on a stack of its own in this
//     process's memory (no page tables to copy: a thread's cost), and
//     reaps the namespace's orphans until its parent dies;
//   - the plugin's process (pid 2), a fork, which returns from the
//     constructor and starts the Go runtime.
// This process then holds nothing, waits for the plugin's process, ends
// the init and reaps it, and ends as the plugin's process ended (the
// same exit code, or killed by the same signal). To stop the child the
// host kills the other two and lets this one reap them, so that none is
// left for another reaper; if this one dies first (its host died), its
// death sends the other two SIGKILL (their parent-death signal, from
// outside the namespace, so not ignored by the init). Neither waiter
// runs plugin code or keeps a descriptor, and neither is dumpable or
// holds a capability; the plugin's process shares no memory with them.

#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nsinit.h"

// rp_raw (rawsys_amd64.c, rawsys_arm64.c) is a system call that touches
// no libc state (errno is in this process's TLS, which the init shares):
// the result, or -errno.
long rp_raw(long nr, long a, long b, long c, long d) __attribute__((visibility("hidden")));

// rp_ns_drop gives up every capability and the bounding set (raw calls:
// the init runs it too).
static void rp_ns_drop(void) {
	rp_raw(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0);
	for (long c = 0; c <= 63 && rp_raw(SYS_prctl, PR_CAPBSET_READ, c, 0, 0) >= 0; c++)
		rp_raw(SYS_prctl, PR_CAPBSET_DROP, c, 0, 0); // EPERM without CAP_SETPCAP: none to drop
	rp_raw(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0);
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	rp_raw(SYS_capset, (long)&h, (long)d, 0, 0);
}

// The init's stack, in this process's memory (CLONE_VM).
static char rp_ns_init_stack[16384] __attribute__((aligned(16)));

// rp_ns_init is the namespace's init: arg points to a pidfd of its
// parent. It dies with its parent, holds nothing, and reaps.
static int rp_ns_init(void *arg) {
	int parent = *(volatile int *)arg;
	rp_raw(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0);
	struct pollfd pf = {.fd = parent, .events = POLLIN};
	struct timespec now = {0, 0}; // ppoll: AArch64 has no poll
	if (rp_raw(SYS_ppoll, (long)&pf, 1, (long)&now, 0) != 0)
		rp_raw(SYS_exit, RP_NS_EXIT_ORPHAN, 0, 0, 0); // the parent died before the signal was armed
	rp_raw(SYS_close_range, 0, ~0U, 0, 0);           // its own copy of the table
	rp_ns_drop();
	// SIGCHLD blocked is never ignored, so it waits for one and reaps.
	uint64_t chld = 1ULL << (SIGCHLD - 1);
	rp_raw(SYS_rt_sigprocmask, SIG_BLOCK, (long)&chld, 0, 8);
	for (;;) {
		rp_raw(SYS_rt_sigtimedwait, (long)&chld, 0, 0, 8);
		while (rp_raw(SYS_wait4, -1, 0, WNOHANG | __WALL, 0) > 0) {
		}
	}
	return 0;
}

// rp_ns_waiter makes the outer process harmless: no descriptor, not
// dumpable (no core file, no ptrace or /proc/PID/mem by its uid; the
// init shares its memory, and so its dumpable flag), no capability.
static void rp_ns_waiter(void) {
	syscall(SYS_close_range, 0, ~0U, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	rp_ns_drop();
}

// rp_ns_end ends the outer process as status says the plugin's ended.
static void rp_ns_end(int status) {
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig); // not an init: its own signal ends it
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : RP_NS_EXIT_LOST);
}

int rp_ns_proc_errno;

// rp_ns_mount_proc mounts a procfs of the new PID namespace on /proc, in
// the child's own mount namespace (its mounts made private first, so
// that nothing propagates to the host's): /proc then lists the
// namespace's processes alone, for a plugin allowed to open files. A
// failure (no mount namespace, or a container whose /proc is not fully
// visible) leaves the host's /proc, and is reported.
static void rp_ns_mount_proc(void) {
	if (!(rp_ns_flags & CLONE_NEWNS)) {
		rp_ns_proc_errno = EPERM;
		return;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
		rp_ns_proc_errno = errno;
}

void rp_ns_enter_pid(void) {
	static int self;
	self = (int)syscall(SYS_pidfd_open, getpid(), 0);
	pid_t init = self < 0 ? -1 : clone(rp_ns_init, rp_ns_init_stack + sizeof rp_ns_init_stack, CLONE_VM | SIGCHLD, &self);
	if (init < 0) {
		// Nothing in the namespace: this process runs on outside it,
		// and the Report says there is none.
		rp_ns_fail("pid namespace: init", errno);
		rp_ns_flags &= ~CLONE_NEWPID;
		if (self >= 0)
			close(self);
		return;
	}
	pid_t plugin = fork();
	if (plugin == 0) {
		// The plugin's process, pid 2. Its parent (outside the
		// namespace: getppid() is 0) must still be there once its
		// death signal is armed.
		close(self);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != 0)
			_exit(RP_NS_EXIT_ORPHAN);
		rp_ns_mount_proc();
		return;
	}
	rp_ns_waiter();
	if (plugin < 0)
		_exit(RP_NS_EXIT_LOST); // the init dies with it
	int st;
	while (waitpid(plugin, &st, 0) < 0)
		if (errno != EINTR)
			_exit(RP_NS_EXIT_LOST);
	// The init next (from outside its namespace, so not ignored): its
	// death ends whatever else the namespace holds, and this process
	// reaps it, so that no process of the child outlives this one (the
	// host kills the plugin's process and the init, not this one:
	// isolate's spawn.go kill).
	kill(init, SIGKILL);
	while (waitpid(init, NULL, __WALL) < 0 && errno == EINTR) {
	}
	rp_ns_end(st);
}
