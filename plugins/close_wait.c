// close_wait: a call that runs until the host lets it go, for the tests
// of a Close whose wait for calls in flight its context bounds.
//
// Build: cc -shared -fPIC -O2 -Wall -o close_wait.so close_wait.c
#include <stdint.h>

volatile int64_t cw_entered, cw_released;

// cw_wait sets cw_entered, then returns 7 once cw_released is set.
int64_t cw_wait(void) {
	cw_entered = 1;
	while (!cw_released)
		;
	return 7;
}
