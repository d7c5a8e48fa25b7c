// live_b: build B of the hot-reload plugin (see live_common.h).
//
// Build: cc -shared -fPIC -O2 -Wall -o live_b.so live_b.c

#define LIVE_TAG 0xb
#include "live_common.h"

// Only in build B.
int64_t live_only_b(void) { return 2; }
