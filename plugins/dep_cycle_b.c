// dep_cycle_b: needs dep_cycle_a, which needs it back (a cycle).
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,dep_cycle_b.so -o dep_cycle_b.so dep_cycle_b.c -L. -l:dep_cycle_stub.so -Wl,-rpath,$ORIGIN
// Needs: dep_cycle_stub

#include <stdint.h>

extern int64_t cyc_a_base(void);

int64_t cyc_b_calls_a(void) { return cyc_a_base() + 100; }
int64_t cyc_b_base(void) { return 20; }

// Its destructor calls back into dep_cycle_a, which must still be mapped
// (glibc unmaps neither before every destructor of the cycle ran).
__attribute__((destructor)) static void cyc_b_fini(void) {
	if (cyc_a_base() != 1) {
		__builtin_trap();
	}
}
