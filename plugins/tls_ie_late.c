// tls_ie_late: reaches tls_dep's thread-local variable (which tls_user
// reaches in the general-dynamic model) in the initial-exec model. Loaded
// first, it puts tls_dep in static TLS and tls_user then shares it;
// loaded after tls_user, it is refused: tls_dep is already in dynamic use.
//
// Build: cc -shared -fPIC -O2 -Wall -o tls_ie_late.so tls_ie_late.c -L. -l:tls_dep.so -Wl,-rpath,$ORIGIN
// Needs: tls_dep

#include <stdint.h>

extern __thread int tls_shared __attribute__((tls_model("initial-exec")));

int64_t tls_ie_late_bump(void) { return ++tls_shared; }
