//go:build linux && (amd64 || arm64) && cgo

// childinit.c: an isolated child's confinement that must come before any
// other code of the process, made by a constructor while the process is
// still single-threaded (after nsinit.c's, which it follows in the same
// constructor order: see rp_childinit's priority).
//
// It acts only when RP_CHILD_ENV is set ("FD[:KEEPID]": the highest
// descriptor to keep, the channel; KEEPID "1" keeps CAP_SETUID and
// CAP_SETGID, for a root host's child that drops to its own uid once its
// files are open, package isolate's confine_uid.go). In order:
//  1. every descriptor above FD is closed (close_range): the child holds
//     only what the host handed over, whatever the host forgot to mark
//     close-on-exec;
//  2. with KEEPID, the supplementary groups and the gid given up for
//     RP_CHILD_ID_BASE plus the child's pid, while the process has one
//     thread (later, glibc would make each change on every thread of the
//     Go runtime, the setxid broadcast): the load opens files as uid 0,
//     their owner, and the uid drop before plugin code is one change;
//  3. no_new_privs, the bounding and ambient capability sets emptied,
//     and every capability given up (but the two of KEEPID, or only
//     CAP_SETUID once the gid is dropped);
//  4. a Landlock domain, where the kernel has Landlock, with no rule:
//     no file may be written, created, removed, truncated or run, no TCP
//     port bound or connected, no signal sent and no abstract socket
//     reached outside the child. It does not handle reads, which the
//     load needs: the seccomp filter and the uid stop those.
// A step that fails is recorded (rp_child_step, rp_child_errno) and
// reported by sandbox.ChildConfinement; the later steps still run.

#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "childinit.h"
#include "nsinit.h"

int rp_child_asked;
int rp_child_landlock;
int rp_child_errno;
const char *rp_child_step = "";

static void rp_child_fail(const char *step, int e) {
	if (rp_child_errno == 0) {
		rp_child_step = step;
		rp_child_errno = e;
	}
}

// rp_child_close closes every descriptor above keep.
static void rp_child_close(unsigned keep) {
	if (syscall(SYS_close_range, keep + 1, ~0U, 0) == 0)
		return;
	struct rlimit rl;
	unsigned max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1 << 20 ? (unsigned)rl.rlim_cur : 1 << 20;
	for (unsigned fd = keep + 1; fd < max; fd++)
		close((int)fd);
}

// rp_child_gid gives up the supplementary groups and takes the gid
// RP_CHILD_ID_BASE plus the process's pid as the host sees it (nsinit.c:
// in a PID namespace, the pid of the process that waits for it); it
// says whether it did (raw calls: the process has one thread).
static int rp_child_gid(void) {
	long pid = (rp_ns_flags & CLONE_NEWPID) ? rp_ns_hostpid : getpid();
	long id = RP_CHILD_ID_BASE + pid;
	if (syscall(SYS_setgroups, 0, NULL) != 0) {
		rp_child_fail("setgroups", errno);
		return 0;
	}
	if (syscall(SYS_setresgid, id, id, id) != 0) {
		rp_child_fail("setresgid", errno);
		return 0;
	}
	return 1;
}

// rp_child_caps empties the bounding and ambient sets and keeps, of the
// permitted and effective sets, CAP_SETUID if keepid, and CAP_SETGID if
// keepid and the gid is still to drop.
static void rp_child_caps(int keepid, int gid_dropped) {
	for (int c = 0; c <= 63; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) < 0)
			break; // past the kernel's last capability
		// EPERM without CAP_SETPCAP: a process without it holds no
		// capability to drop in the first place (capset below).
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EPERM) {
			rp_child_fail("drop bounding set", errno);
			break;
		}
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	memset(d, 0, sizeof d);
	if (keepid)
		d[0].permitted = d[0].effective = (1u << CAP_SETUID) | (gid_dropped ? 0 : 1u << CAP_SETGID);
	if (syscall(SYS_capset, &h, d) != 0)
		rp_child_fail("capset", errno);
}

// rp_child_landlock_restrict puts the process in a Landlock domain with
// every access but reads handled and no rule granting one.
static void rp_child_landlock_restrict(void) {
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1)
		return; // no Landlock: the Report says so
	struct {
		uint64_t fs, net, scoped;
	} attr = {0};
	size_t size = 8;
	attr.fs = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
		  LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		  LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
		  LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		attr.fs |= 1ULL << 13; // LANDLOCK_ACCESS_FS_REFER
	if (abi >= 3)
		attr.fs |= 1ULL << 14; // LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 4) {
		attr.net = 3; // LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP
		size = 16;
	}
	if (abi >= 5)
		attr.fs |= 1ULL << 15; // LANDLOCK_ACCESS_FS_IOCTL_DEV
	if (abi >= 6) {
		attr.scoped = 3; // LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL
		size = 24;
	}
	int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0) {
		rp_child_fail("landlock_create_ruleset", errno);
		return;
	}
	if (syscall(SYS_landlock_restrict_self, fd, 0) != 0)
		rp_child_fail("landlock_restrict_self", errno);
	else
		rp_child_landlock = (int)abi;
	close(fd);
}

// Priority 200: after nsinit.c's constructor (default priority runs
// last; a lower number runs first, so nsinit's is given 150), which
// writes /proc files that Landlock would refuse.
__attribute__((constructor(200))) static void rp_childinit(void) {
	const char *v = getenv(RP_CHILD_ENV);
	if (v == NULL)
		return;
	char *end;
	unsigned long keep = strtoul(v, &end, 10);
	int keepid = 0;
	if (*end == ':') {
		keepid = end[1] == '1';
		end += 2;
	}
	if (end == v || *end != '\0' || keep < 2 || keep > 1024) {
		rp_child_fail("parse " RP_CHILD_ENV, EINVAL);
		return;
	}
	rp_child_asked = 1;
	rp_child_close((unsigned)keep);
	int gid_dropped = keepid && rp_child_gid();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		rp_child_fail("no_new_privs", errno);
	rp_child_caps(keepid, gid_dropped);
	rp_child_landlock_restrict();
}
