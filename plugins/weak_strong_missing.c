// weak_strong_missing: a strong import that nothing defines: the load must
// fail, naming the symbol and the object.
//
// Build: cc -shared -fPIC -O2 -Wall -o weak_strong_missing.so weak_strong_missing.c

#include <stdint.h>

extern int64_t runplug_nowhere_defined(int64_t);

int64_t call_missing(int64_t x) { return runplug_nowhere_defined(x); }
