// state_counter_v4_fails: layout 4 of state_counter whose migration
// scribbles over the new state and then returns 7: the load is refused
// and the file left as it was.
//
// Build: cc -shared -fPIC -O2 -Wall -o state_counter_v4_fails.so state_counter_v4_fails.c

#include <stddef.h>
#include <stdint.h>

#define STATE_VERSION 4
struct counter {
	uint64_t calls;
	uint64_t ctor_runs;
};
#include "state_counter.h"

int runplug_state_migrate(uint32_t from, const void *old, size_t old_size, void *st, size_t size) {
	memset(st, 0xff, size);
	return 7;
}
