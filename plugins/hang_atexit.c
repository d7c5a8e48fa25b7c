// hang_atexit: an atexit handler (registered by the constructor, run by
// runplug's __cxa_finalize at Close) that faults.
//
// Build: cc -shared -fPIC -O2 -Wall -o hang_atexit.so hang_atexit.c

#include <stdlib.h>

static void bad(void) { *(volatile int *)0 = 1; }

__attribute__((constructor)) static void init(void) { atexit(bad); }

int ping(int x) { return x + 1; }
