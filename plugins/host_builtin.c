// host_builtin: a plugin that uses the built-in host functions of
// `runplug call` (plugins/runplug.h): it logs through the host and reads
// the host's clock.
//
// Build: cc -shared -fPIC -O2 -Wall -o host_builtin.so host_builtin.c

#include <stdint.h>
#include <stdio.h>

#include "runplug.h"

// greet logs a greeting for n at level INFO and returns 2*n.
int64_t greet(int64_t n) {
	char msg[64];
	snprintf(msg, sizeof msg, "hello from host_builtin, n=%lld", (long long)n);
	runplug_log(RUNPLUG_LOG_INFO, msg);
	return 2 * n;
}

// elapsed returns how many nanoseconds a busy loop of n steps took by the
// host's clock (never negative), after logging a warning when n is 0.
int64_t elapsed(int64_t n) {
	if (n == 0) {
		runplug_log(RUNPLUG_LOG_WARN, "elapsed: nothing to time");
	}
	int64_t t0 = runplug_now_ns();
	volatile int64_t x = 0;
	for (int64_t i = 0; i < n; i++) {
		x += i;
	}
	int64_t t1 = runplug_now_ns();
	return t1 - t0;
}
