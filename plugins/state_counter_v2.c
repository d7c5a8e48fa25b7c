// state_counter_v2: layout 2 of state_counter (a label and a wider
// struct), with the migration from layout 1.
//
// Build: cc -shared -fPIC -O2 -Wall -o state_counter_v2.so state_counter_v2.c

#include <stddef.h>
#include <stdint.h>

#define STATE_VERSION 2
struct counter {
	char label[8];
	uint64_t calls;
	uint64_t ctor_runs;
	uint64_t migrated_from;
};
#include "state_counter.h"

struct counter_v1 {
	uint64_t calls;
	uint64_t ctor_runs;
};

int runplug_state_migrate(uint32_t from, const void *old, size_t old_size, void *st, size_t size) {
	if (from != 1 || old_size != sizeof(struct counter_v1) || size != sizeof(struct counter))
		return 1;
	const struct counter_v1 *o = old;
	struct counter *n = st;
	memcpy(n->label, "counter", 8);
	n->calls = o->calls;
	n->ctor_runs = o->ctor_runs;
	n->migrated_from = from;
	return 0;
}

// Returns the layout the state was migrated from (0: none).
int64_t counter_migrated_from(void) { return (int64_t)state.migrated_from; }
