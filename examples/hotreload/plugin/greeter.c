// greeter: the plugin of the hotreload example. greet() answers with
// GREETING and the number of greetings so far, which it keeps in a
// persistent state region: a new build (change GREETING, rebuild) takes
// over the count.
//
// Build: cc -shared -fPIC -O2 -Wall -I../../../plugins -o greeter.so greeter.c

#include <stdint.h>
#include <stdio.h>

#include "runplug.h"

#define GREETING "hello"

struct greeter_state {
	uint64_t greetings;
};
RUNPLUG_STATE(struct greeter_state, state, 1);

static char answer[64];

// Returns "GREETING #N", N counting every greeting of every build.
const char *greet(void) {
	unsigned long long n = __atomic_add_fetch(&state.greetings, 1, __ATOMIC_RELAXED);
	snprintf(answer, sizeof answer, "%s #%llu", GREETING, n);
	return answer;
}
