// dl_target: a library that dl_user opens with dlopen at run time (it is
// not a DT_NEEDED of anything).
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,dl_target.so -o dl_target.so dl_target.c

#include <stdint.h>

int64_t target_add(int64_t x) { return x + 1; }
