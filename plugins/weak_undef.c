// weak_undef: weak imports that nothing defines resolve to 0 (a function
// and a variable), and a weak import the host supplies resolves to it.
//
// Build: cc -shared -fPIC -O2 -Wall -o weak_undef.so weak_undef.c

#include <stdint.h>

extern int64_t weak_missing_func(void) __attribute__((weak));
extern int64_t weak_missing_var __attribute__((weak));
extern int64_t weak_host_var __attribute__((weak));

int64_t weak_func_is_null(void) { return weak_missing_func == 0; }
int64_t weak_var_addr(void) { return (int64_t)(intptr_t)&weak_missing_var; }
int64_t weak_host_get(void) { return &weak_host_var ? weak_host_var : -1; }
