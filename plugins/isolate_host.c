// isolate_host: an isolated plugin calling its host's Go functions across
// the process boundary: integers, a string, a panic, a call that signals
// it is inside before it spins (for deadline tests), and a host function
// that calls back into the plugin.
//
// Build: cc -shared -fPIC -O2 -Wall -o isolate_host.so isolate_host.c

#include <stdint.h>

int64_t host_add(int64_t a, int64_t b);
int32_t host_strlen(const char *s);
int64_t host_inside(void);
int64_t host_panic(int64_t x);
int64_t host_reenter(int64_t x);

int64_t call_add(int64_t a, int64_t b) { return host_add(a, b) + 1; }
int32_t call_strlen(const char *s) { return host_strlen(s); }
int64_t call_panic(int64_t x) { return host_panic(x); }
int64_t leaf(int64_t x) { return x * 3; }
int64_t call_reenter(int64_t x) { return host_reenter(x) + 1; }

// spin tells the host it is inside, then never returns.
int64_t spin(void) {
	host_inside();
	for (;;) {
		__asm__ volatile("");
	}
}
