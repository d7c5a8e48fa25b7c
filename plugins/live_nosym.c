// live_nosym: a broken build of the hot-reload plugin without live_call:
// a reload to it must fail (a binding needs the symbol) and keep the old
// build.
//
// Build: cc -shared -fPIC -O2 -Wall -o live_nosym.so live_nosym.c

#include <stdint.h>

#include "runplug.h"

struct live_state {
	uint64_t calls;
};
RUNPLUG_STATE(struct live_state, state, 1);

int64_t live_calls(void) { return (int64_t)state.calls; }
