// state_counter_v5_faults: layout 5 of state_counter whose migration
// writes the new state and then faults: the load is refused and the file
// left as it was.
//
// Build: cc -shared -fPIC -O2 -Wall -o state_counter_v5_faults.so state_counter_v5_faults.c

#include <stddef.h>
#include <stdint.h>

#define STATE_VERSION 5
struct counter {
	uint64_t calls;
	uint64_t ctor_runs;
};
#include "state_counter.h"

int runplug_state_migrate(uint32_t from, const void *old, size_t old_size, void *st, size_t size) {
	memset(st, 0xee, size);
	volatile int *volatile bad = (int *)16;
	return *bad;
}
