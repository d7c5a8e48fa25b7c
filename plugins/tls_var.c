// tls_var: a thread-local variable (a PT_TLS segment and TLS
// relocations): refused by runplug's loader with ErrTLS.
//
// Build: cc -shared -fPIC -O2 -Wall -o tls_var.so tls_var.c

#include <stdint.h>

__thread int64_t tls_counter = 5;

int64_t tls_bump(void) { return ++tls_counter; }
