// tls_desc: a thread-local variable accessed through TLS descriptors
// (-mtls-dialect=gnu2): runplug refuses R_X86_64_TLSDESC with ErrTLS.
//
// Build: cc -shared -fPIC -O2 -Wall -mtls-dialect=gnu2 -o tls_desc.so tls_desc.c

#include <stdint.h>

__thread int64_t desc_counter;

int64_t tls_desc_bump(void) { return ++desc_counter; }
