// dl_global_user: imports target_add without needing the library that
// defines it (no DT_NEEDED): it loads only once another plugin has opened
// dl_target with dlopen(RTLD_GLOBAL), as with ld.so.
//
// Build: cc -shared -fPIC -O2 -Wall -o dl_global_user.so dl_global_user.c

#include <stdint.h>

extern int64_t target_add(int64_t);

int64_t uses_global(int64_t x) { return target_add(x) * 10; }
