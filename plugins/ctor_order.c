// ctor_order: records the order of its DT_INIT, its DT_INIT_ARRAY entries
// (constructors with priorities 101 and 102 and one without), its
// DT_FINI_ARRAY entries and DT_FINI in the host's ctor_log (see
// ctor_log.h), after those of its dependency ctor_dep. co_argc returns the
// argc its constructors were given.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-init,co_init -Wl,-fini,co_fini -o ctor_order.so ctor_order.c -L. -l:ctor_dep.so -Wl,-rpath,$ORIGIN
// Needs: ctor_dep

#include "ctor_log.h"

static int seen_argc = -1;

void co_init(void) { ctor_note("top:init"); }
void co_fini(void) { ctor_note("top:fini"); }
__attribute__((constructor(101))) static void c101(int argc, char **argv, char **envp) {
	(void)argv;
	(void)envp;
	seen_argc = argc;
	ctor_note("top:ctor101");
}
__attribute__((constructor(102))) static void c102(void) { ctor_note("top:ctor102"); }
__attribute__((constructor)) static void c(void) { ctor_note("top:ctor"); }
__attribute__((destructor(101))) static void d101(void) { ctor_note("top:dtor101"); }
__attribute__((destructor(102))) static void d102(void) { ctor_note("top:dtor102"); }
__attribute__((destructor)) static void d(void) { ctor_note("top:dtor"); }

int co_argc(void) { return seen_argc; }

extern int dep_id(void);
int co_dep_id(void) { return dep_id(); }
