// tls_ie_dep: a dependency whose thread-local variable tls_ie_user reaches
// in the initial-exec model. It has no initial-exec code itself (no
// DF_STATIC_TLS): the user's R_X86_64_TPOFF64 is what puts its module in
// static TLS.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,tls_ie_dep.so -o tls_ie_dep.so tls_ie_dep.c

#include <stdint.h>

__thread int64_t ie_dep_var = 42;

int64_t tls_ie_dep_get(void) { return ie_dep_var; }
