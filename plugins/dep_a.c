// dep_a: needs dep_b (found through DT_RUNPATH $ORIGIN) and calls it.
//
// Build: cc -shared -fPIC -O2 -Wall -o dep_a.so dep_a.c -L. -l:dep_b.so -Wl,-rpath,$ORIGIN
// Needs: dep_b

#include <stdint.h>

extern int64_t dep_b_value(int64_t);
extern int64_t dep_b_bump(void);

int64_t dep_a_value(int64_t x) { return dep_b_value(x) + 1; }
int64_t dep_a_bump_b(void) { return dep_b_bump(); }
