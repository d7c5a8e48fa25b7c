// dep_b: the bottom of the dependency chain dep_a -> dep_b: a function and
// a counter shared by every plugin that needs it.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,dep_b.so -o dep_b.so dep_b.c

#include <stdint.h>

int64_t dep_b_counter;

int64_t dep_b_value(int64_t x) { return x * 10 + 3; }
int64_t dep_b_bump(void) { return ++dep_b_counter; }
