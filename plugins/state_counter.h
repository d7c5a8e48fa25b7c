// state_counter.h: the body shared by the state_counter*.c plugins (state
// regions, migrations): a counter kept in a RUNPLUG_STATE region of
// layout STATE_VERSION. Each including file defines STATE_VERSION, the
// struct counter and, for a layout after 1, its migration.

#include <stdint.h>
#include <string.h>

#include "runplug.h"

RUNPLUG_STATE(struct counter, state, STATE_VERSION);

// The constructor sees the state already mapped: it counts its runs.
__attribute__((constructor)) static void count_ctor(void) { state.ctor_runs++; }

// Adds 1 to the counter and returns the new value.
int64_t counter_bump(void) { return (int64_t)__atomic_add_fetch(&state.calls, 1, __ATOMIC_RELAXED); }

// Returns the counter.
int64_t counter_get(void) { return (int64_t)__atomic_load_n(&state.calls, __ATOMIC_RELAXED); }

// Returns how many times a constructor ran on this state.
int64_t counter_ctor_runs(void) { return (int64_t)state.ctor_runs; }

// Returns the layout version of this build.
int64_t counter_version(void) { return STATE_VERSION; }

// Adds n to the counter, then faults: what it wrote must survive.
int64_t counter_bump_then_fault(int64_t n) {
	__atomic_add_fetch(&state.calls, (uint64_t)n, __ATOMIC_RELAXED);
	volatile int64_t *volatile bad = (int64_t *)8;
	return *bad;
}

// Returns the address of the state, to compare with the host's view.
void *counter_addr(void) { return &state; }
