// ctor_fault: a constructor that dereferences NULL: the load must fail
// with the fault, and leave nothing mapped.
//
// Build: cc -shared -fPIC -O2 -Wall -o ctor_fault.so ctor_fault.c

#include <stdint.h>

// A volatile null pointer: the compiler may not assume the store away.
static int64_t *volatile null_ptr;

__attribute__((constructor)) static void boom(void) { *null_ptr = 1; }

int64_t ctor_fault_never(void) { return 1; }
