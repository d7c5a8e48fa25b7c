// ctor_dep: the dependency of ctor_order; records its DT_INIT, constructor,
// destructor and DT_FINI in the host's ctor_log (see ctor_log.h).
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,ctor_dep.so -Wl,-init,dep_init -Wl,-fini,dep_fini -o ctor_dep.so ctor_dep.c

#include "ctor_log.h"

void dep_init(void) { ctor_note("dep:init"); }
void dep_fini(void) { ctor_note("dep:fini"); }
__attribute__((constructor)) static void dep_ctor(void) { ctor_note("dep:ctor"); }
__attribute__((destructor)) static void dep_dtor(void) { ctor_note("dep:dtor"); }

// Referenced by ctor_order, so that the linker (with --as-needed) keeps
// the DT_NEEDED entry.
int dep_id(void) { return 7; }
