// dep_cycle_a: needs dep_cycle_b, which needs dep_cycle_a back (a cycle).
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,dep_cycle_a.so -o dep_cycle_a.so dep_cycle_a.c -L. -l:dep_cycle_b.so -Wl,-rpath,$ORIGIN
// Needs: dep_cycle_b

#include <stdint.h>

extern int64_t cyc_b_base(void);
extern int64_t cyc_b_calls_a(void);

int64_t cyc_a_base(void) { return 1; }
int64_t cyc_a_total(void) { return cyc_b_base() + cyc_b_calls_a(); }
