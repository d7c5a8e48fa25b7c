// life_calls: functions for the loader's lifecycle tests: a slow loop
// (calls in flight while Close runs), an endless loop (deadlines), faults
// (quarantine and fault reports) and a counter per instance.
//
// Build: cc -shared -fPIC -O2 -Wall -o life_calls.so life_calls.c

#include <stdint.h>

int64_t life_calls;

// Spins for about n iterations and returns n.
int64_t life_slow(int64_t n) {
	for (volatile int64_t i = 0; i < n; i++)
		;
	life_calls++;
	return n;
}

// Never returns.
void life_forever(void) {
	for (volatile int i = 0;; i++)
		;
}

// Writes into its own text segment.
void life_write_text(void) { *(volatile char *)(void *)life_slow = 0; }

// Reads the byte at p.
int64_t life_read(const volatile uint8_t *p) { return *p; }
