// live_prio: records the scheduling policy of the thread that runs its
// constructor (loader TestReloadIdleThread: a reload loads on an idle
// thread, but runs the plugin's constructors at normal priority, so
// that a thread a constructor starts does not inherit the idle policy).
//
// Build: cc -shared -fPIC -O2 -Wall -o live_prio.so live_prio.c

#include <sched.h>

static int ctor_policy = -1;

__attribute__((constructor)) static void prio_ctor(void) { ctor_policy = sched_getscheduler(0); }

// Returns the policy the constructor ran at (SCHED_OTHER is 0).
int ctor_sched_policy(void) { return ctor_policy; }
