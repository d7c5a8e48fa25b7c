//go:build linux && (amd64 || arm64) && cgo

// nsinit.c: an isolated child's namespaces, made by a constructor before
// the Go runtime starts. unshare(CLONE_NEWUSER) needs a single-threaded
// caller, which a Go process never is once its runtime runs; asking for
// the namespaces at the fork instead (CLONE_NEWUSER in SysProcAttr) makes
// os/exec copy the whole host rather than vfork it (the child must wait
// for its uid map), so a host with a big heap would pay in proportion on
// every start (figures: docs/PERFORMANCE.md, Isolated).
//
// The constructor acts only when RP_NS_ENV is set ("FLAGS:PPID", FLAGS in
// hex: the CLONE_NEW* flags to unshare; PPID: the pid of the host that
// started it). It unshares them, maps its own uid and gid (setgroups
// "deny" first, as an unprivileged process must), re-arms the
// parent-death signal, and ends the process if its parent is no longer
// the host. What it got, and the step and errno that failed, stay in the
// rp_ns_* variables for EarlyNamespaces (nsinit_cgo.go).
//
// With CLONE_NEWPID the process runs as three (pidns.c): this one, the
// pid the host knows, which waits and ends as the plugin's process ended;
// a reaper as pid 1 of the new namespace; and the plugin's process, pid 2,
// which alone goes on to start the Go runtime.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "nsinit.h"

int rp_ns_asked;
int rp_ns_flags;
int rp_ns_hostpid;
int rp_ns_errno;
const char *rp_ns_step = "";

// The namespaces the constructor may be asked for.
#define RP_NS_ALLOWED (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID)

// rp_ns_put writes s to a /proc file; 0 or an errno.
static int rp_ns_put(const char *path, const char *s) {
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	size_t n = strlen(s);
	ssize_t w = write(fd, s, n);
	int e = w < 0 ? errno : (size_t)w != n ? EIO : 0;
	close(fd);
	return e;
}

void rp_ns_fail(const char *step, int e) {
	rp_ns_step = step;
	rp_ns_errno = e;
}

__attribute__((constructor(150))) static void rp_nsinit(void) {
	const char *v = getenv(RP_NS_ENV);
	if (v == NULL)
		return;
	char *end;
	unsigned long flags = strtoul(v, &end, 16);
	long ppid = *end == ':' ? strtol(end + 1, &end, 10) : 0;
	if (*end != '\0' || ppid <= 0 || (flags & ~(unsigned long)RP_NS_ALLOWED) != 0) {
		rp_ns_fail("parse " RP_NS_ENV, EINVAL);
		return;
	}
	rp_ns_asked = (int)flags;
	rp_ns_hostpid = (int)getpid();
	// Entering a user namespace is a credential change: the kernel keeps
	// the parent-death signal when the new namespace is a child of the
	// old one owned by our euid (cred_cap_issubset), but clears it on any
	// other change, so it is read here and set again afterwards.
	int sig = 0;
	prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0);
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int made = unshare((int)flags) == 0;
	if (!made && (flags & CLONE_NEWPID)) {
		// A kernel or container that refuses PID namespaces alone: the
		// others still, and the Report names the one missing.
		rp_ns_fail("unshare pid", errno);
		flags &= ~(unsigned long)CLONE_NEWPID;
		made = unshare((int)flags) == 0;
	}
	if (!made) {
		rp_ns_fail("unshare", errno);
	} else {
		rp_ns_flags = (int)flags;
		if (flags & CLONE_NEWUSER) {
			char buf[64];
			int e;
			snprintf(buf, sizeof buf, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
			if ((e = rp_ns_put("/proc/self/uid_map", buf)) != 0)
				rp_ns_fail("write uid_map", e);
			else if ((e = rp_ns_put("/proc/self/setgroups", "deny")) != 0)
				rp_ns_fail("write setgroups", e);
			else {
				snprintf(buf, sizeof buf, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
				if ((e = rp_ns_put("/proc/self/gid_map", buf)) != 0)
					rp_ns_fail("write gid_map", e);
			}
		}
	}
	if (sig != 0) {
		// Re-armed, then the parent checked: a host that died before
		// the signal was set again would otherwise leave this child.
		if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0)
			_exit(RP_NS_EXIT_ORPHAN);
	}
	if (getppid() != (pid_t)ppid)
		_exit(RP_NS_EXIT_ORPHAN);
	if (rp_ns_flags & CLONE_NEWPID)
		rp_ns_enter_pid(); // returns in the plugin's process only
}
