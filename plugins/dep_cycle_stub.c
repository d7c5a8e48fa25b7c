// dep_cycle_stub: stands in for dep_cycle_a when dep_cycle_b is linked
// (the two need each other, and one must be built first): its soname is
// dep_cycle_a.so, so dep_cycle_b gets DT_NEEDED dep_cycle_a.so, which at
// run time is the real dep_cycle_a.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,dep_cycle_a.so -o dep_cycle_stub.so dep_cycle_stub.c

#include <stdint.h>

int64_t cyc_a_base(void) { return -1; }
