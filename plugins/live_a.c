// live_a: build A of the hot-reload plugin (see live_common.h).
//
// Build: cc -shared -fPIC -O2 -Wall -o live_a.so live_a.c

#define LIVE_TAG 0xa
#include "live_common.h"
