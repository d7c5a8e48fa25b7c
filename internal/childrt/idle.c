//go:build linux && (amd64 || arm64) && cgo

// idle.c: an isolated child started in the background (a Live's reload,
// a spare) enters SCHED_IDLE before anything else it does: before
// nsinit.c's constructor forks its reaper and the plugin's process, and
// before its Go runtime starts threads, all of which inherit the policy.
// The fork and exec before it ran at the host's priority: they are
// short. The host raises the child back once it serves (isolate's
// priority.go).

#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

// struct sched_attr's first fields (the kernel accepts a size of 48).
struct rp_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

#define RP_SCHED_IDLE 5

// Priority 101: before nsinit.c's (150) and childinit.c's (200).
__attribute__((constructor(101))) static void rp_idle(void) {
	const char *v = getenv("RUNPLUG_CHILD_IDLE");
	if (v == NULL || strcmp(v, "1") != 0)
		return;
	struct rp_sched_attr a = {.size = sizeof a, .policy = RP_SCHED_IDLE};
	syscall(SYS_sched_setattr, 0, &a, 0); // a failure leaves it at normal priority
}
