// state_counter_v3_nomigrate: layout 3 of state_counter with no
// runplug_state_migrate: loading it over another layout is refused.
//
// Build: cc -shared -fPIC -O2 -Wall -o state_counter_v3_nomigrate.so state_counter_v3_nomigrate.c

#include <stdint.h>

#define STATE_VERSION 3
struct counter {
	uint64_t calls;
	uint64_t ctor_runs;
	uint64_t more;
};
#include "state_counter.h"
