// relro_keep: reaches dep_b through its GOT (in PT_GNU_RELRO with -z now),
// for the tests of keeping a sealed RELRO across a reuse: an address of
// dep_b's data and a call into dep_b, both read from RELRO.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-z,relro,-z,now -o relro_keep.so relro_keep.c -L. -l:dep_b.so -Wl,-rpath,$ORIGIN
// Needs: dep_b

#include <stdint.h>

extern int64_t dep_b_counter;
extern int64_t dep_b_value(int64_t);

int64_t *relro_keep_counter(void) { return &dep_b_counter; }
int64_t relro_keep_value(int64_t x) { return dep_b_value(x); }
