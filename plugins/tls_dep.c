// tls_dep: a dependency that defines a thread-local variable for
// tls_user (a general-dynamic access across objects).
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,tls_dep.so -o tls_dep.so tls_dep.c

#include <stdint.h>

__thread int tls_shared = 7;

int64_t tls_dep_get(void) { return tls_shared; }
