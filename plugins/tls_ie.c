// tls_ie: a thread-local variable in the static TLS (initial-exec) model,
// which needs room in every thread's static TLS block that only ld.so can
// give: runplug refuses it with ErrTLS.
//
// Build: cc -shared -fPIC -O2 -Wall -o tls_ie.so tls_ie.c

#include <stdint.h>

__thread int64_t ie_counter __attribute__((tls_model("initial-exec")));

int64_t tls_ie_bump(void) { return ++ie_counter; }
