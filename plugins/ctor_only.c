// ctor_only: exports nothing; only a constructor and a destructor, which
// call the host's C library. GNU ld gives it an empty DT_GNU_HASH
// (symoffset 1, no bucket) although its dynamic symbol table holds the
// imports: dlopen loads it, and so must runplug.
//
// Build: cc -shared -fPIC -O2 -Wall -fvisibility=hidden -o ctor_only.so ctor_only.c

#include <stdlib.h>

__attribute__((constructor)) static void ctor(void) { setenv("RUNPLUG_CTOR_ONLY", "ran", 1); }

__attribute__((destructor)) static void dtor(void) { unsetenv("RUNPLUG_CTOR_ONLY"); }
