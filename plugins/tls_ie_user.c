// tls_ie_user: reaches tls_ie_dep's thread-local variable in the
// initial-exec model (a TPOFF64 against another object's symbol).
//
// Build: cc -shared -fPIC -O2 -Wall -o tls_ie_user.so tls_ie_user.c -L. -l:tls_ie_dep.so -Wl,-rpath,$ORIGIN
// Needs: tls_ie_dep

#include <stdint.h>

extern __thread int64_t ie_dep_var __attribute__((tls_model("initial-exec")));
int64_t tls_ie_dep_get(void);

// tls_ie_user_bump adds 1 to ie_dep_var and returns what tls_ie_dep's own
// (general-dynamic) code reads: both must name the same variable.
int64_t tls_ie_user_bump(void) {
	ie_dep_var++;
	return tls_ie_dep_get();
}

int64_t tls_ie_user_get(void) { return ie_dep_var; }
