// tls_user: uses tls_dep's thread-local variable (R_X86_64_DTPMOD64 and
// DTPOFF64 against a symbol of another object).
//
// Build: cc -shared -fPIC -O2 -Wall -o tls_user.so tls_user.c -L. -l:tls_dep.so -Wl,-rpath,$ORIGIN
// Needs: tls_dep

#include <stdint.h>

extern __thread int tls_shared;
int64_t tls_dep_get(void);

// tls_user_bump adds 1 to tls_shared and returns the value tls_dep's own
// code reads: both must name the same thread-local variable.
int64_t tls_user_bump(void) {
	tls_shared++;
	return tls_dep_get();
}

int64_t tls_user_get(void) { return tls_shared; }
