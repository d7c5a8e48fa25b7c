// live_ctor_fault: a broken build of the hot-reload plugin whose
// constructor faults: a reload to it must fail and keep the old build.
//
// Build: cc -shared -fPIC -O2 -Wall -o live_ctor_fault.so live_ctor_fault.c

#define LIVE_TAG 0xf
#include "live_common.h"

__attribute__((constructor)) static void crash(void) {
	volatile int *volatile bad = (int *)24;
	*bad = 1;
}
