//go:build linux && amd64 && cgo

// pidns.c: an isolated child in a PID namespace of its own, as a real
// init would run it. The first process of a PID namespace is its init:
// the kernel ignores every signal sent to it from inside the namespace
// that it has no handler for (its own SIGKILL, abort's SIGABRT, the Go
// runtime's re-raised crash signal), and orphans of the namespace become
// its children. The plugin's process must not be that one: its own
// signals must end it, and its exit status must reach the host exactly.
//
// So, after unshare(CLONE_NEWPID) (nsinit.c), which moves only the
// caller's future children into the namespace:
//   - this process (the host's child, the pid the host knows, waits on
//     and kills) forks the namespace's init and becomes its "outer"
//     waiter: it holds nothing, and ends as the plugin's process ended
//     (the same exit code, or killed by the same signal), which its init
//     tells it over a socket;
//   - the init (pid 1) forks the plugin's process, then reaps every
//     process of the namespace; when the plugin's process ends it sends
//     that status and exits, and the kernel kills whatever else is left
//     in the namespace;
//   - the plugin's process (pid 2) returns from the constructor and
//     starts the Go runtime.
// The host kills the outer process; its death sends the init SIGKILL
// (the parent-death signal, from outside the namespace, so it is not
// ignored), and the init's death ends the namespace. Neither waiter runs
// plugin code or keeps a descriptor the plugin could reach, and neither
// is dumpable or holds a capability.

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "nsinit.h"

// rp_ns_waiter makes a waiting process harmless: no descriptor but keep,
// not dumpable (no core file, no ptrace or /proc/PID/mem by its uid), no
// capability.
static void rp_ns_waiter(int keep) {
	if (keep > 0)
		syscall(SYS_close_range, 0, keep - 1, 0);
	syscall(SYS_close_range, keep + 1, ~0U, 0);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	for (int c = 0; c <= 63 && prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0; c++)
		prctl(PR_CAPBSET_DROP, c, 0, 0, 0); // EPERM without CAP_SETPCAP: none to drop
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {{0}};
	syscall(SYS_capset, &h, d);
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

// rp_ns_outer waits for the init, learns from it how the plugin's
// process ended, and ends so.
static void rp_ns_outer(pid_t init, int sock) {
	rp_ns_waiter(sock);
	int32_t status;
	ssize_t n;
	do
		n = read(sock, &status, sizeof status);
	while (n < 0 && errno == EINTR);
	int st;
	while (waitpid(init, &st, 0) < 0)
		if (errno != EINTR)
			_exit(RP_NS_EXIT_LOST);
	rp_ns_end(n == sizeof status ? status : st); // no report: the init's own end
}

// rp_ns_init reaps the namespace until the plugin's process ends, then
// reports its status on sock and exits.
static void rp_ns_init(pid_t plugin, int sock) {
	rp_ns_waiter(sock);
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, 0);
		if (w == plugin) {
			int32_t status = st;
			ssize_t n = write(sock, &status, sizeof status);
			_exit(n == sizeof status ? 0 : RP_NS_EXIT_LOST);
		}
		if (w < 0 && errno != EINTR)
			_exit(RP_NS_EXIT_LOST);
	}
}

void rp_ns_enter_pid(void) {
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		// Nothing forked yet: this process runs on outside the
		// namespace, and the Report says it has none.
		rp_ns_fail("pid namespace: socketpair", errno);
		rp_ns_flags &= ~CLONE_NEWPID;
		return;
	}
	pid_t init = fork();
	if (init < 0) {
		rp_ns_fail("pid namespace: fork", errno);
		rp_ns_flags &= ~CLONE_NEWPID;
		close(sv[0]);
		close(sv[1]);
		return;
	}
	if (init > 0) {
		close(sv[1]);
		rp_ns_outer(init, sv[0]);
	}
	// The init. Its parent's death must end it (and with it the
	// namespace): armed, then checked, since the parent may have died
	// before (its end of the socket is closed then).
	close(sv[0]);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
		_exit(RP_NS_EXIT_ORPHAN);
	struct pollfd pf = {.fd = sv[1], .events = POLLIN};
	if (poll(&pf, 1, 0) != 0)
		_exit(RP_NS_EXIT_ORPHAN); // the outer process wrote nothing: it is gone
	pid_t plugin = fork();
	if (plugin < 0)
		_exit(RP_NS_EXIT_LOST);
	if (plugin > 0)
		rp_ns_init(plugin, sv[1]);
	// The plugin's process: pid 2. The init's death ends the namespace,
	// so it needs no parent-death signal of its own.
	close(sv[1]);
}
