// demo_state: the plugin of `runplug demo`'s reload step: a visit counter
// kept in a persistent state region (RUNPLUG_STATE), beside an ordinary
// counter in .bss. A reload starts the second from zero and carries the
// first over. Embedded in runplug as cmd/runplug/demo/demo_state.so
// (go generate ./cmd/runplug).
//
// Build: cc -shared -fPIC -O2 -Wall -o demo_state.so demo_state.c

#include <stdint.h>

#include "runplug.h"

#ifndef DEMO_SOURCE_SHA256
#define DEMO_SOURCE_SHA256 "unknown"
#endif

// The sha256 of this source, set by cmd/runplug/demo/gen.go.
const char demo_source_sha256[] = DEMO_SOURCE_SHA256;

struct visits {
	uint64_t count;
};
RUNPLUG_STATE(struct visits, visits, 1);

static int64_t visits_here; // this instance's, in .bss

// Counts a visit in both counters; returns the persistent count.
int64_t demo_visit(void) {
	visits_here++;
	return (int64_t)__atomic_add_fetch(&visits.count, 1, __ATOMIC_RELAXED);
}

// Returns the visits this instance counted.
int64_t demo_visits_here(void) { return visits_here; }
