// state_counter: a counter in a persistent state region, layout 1 (see
// state_counter.h).
//
// Build: cc -shared -fPIC -O2 -Wall -o state_counter.so state_counter.c

#include <stdint.h>

#define STATE_VERSION 1
struct counter {
	uint64_t calls;
	uint64_t ctor_runs;
};
#include "state_counter.h"
