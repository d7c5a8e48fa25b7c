// live_common.h: the body of the live_*.c plugins (hot reload under
// load): one function that counts its calls in a RUNPLUG_STATE region
// and answers with its build's tag twice, once from its code and once
// from data its constructor set, so that a caller can tell a result of
// one complete build from a mix.

#include <stdint.h>

#include "runplug.h"

struct live_state {
	uint64_t calls;
};
RUNPLUG_STATE(struct live_state, state, 1);

static volatile int64_t ready_tag;

__attribute__((constructor)) static void live_ctor(void) { ready_tag = LIVE_TAG; }

// Counts the call; returns LIVE_TAG << 32 | the constructor's tag << 16 |
// the low 16 bits of x.
int64_t live_call(int64_t x) {
	__atomic_add_fetch(&state.calls, 1, __ATOMIC_RELAXED);
	return ((int64_t)LIVE_TAG << 32) | (ready_tag << 16) | (x & 0xffff);
}

// Returns the calls counted in the state.
int64_t live_calls(void) { return (int64_t)__atomic_load_n(&state.calls, __ATOMIC_RELAXED); }
