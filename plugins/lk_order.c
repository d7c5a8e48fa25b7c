// lk_order: needs libm.so.6, then lk_dep.so, then libc.so.6 (in that
// DT_NEEDED order), so Lookup's breadth-first search, like dlsym's on a
// handle, finds cos in libm (before lk_dep) and abs in lk_dep (before
// libc).
//
// Build: cc -shared -fPIC -O2 -Wall -o lk_order.so lk_order.c -L. -Wl,--no-as-needed -lm -l:lk_dep.so -Wl,-rpath,$ORIGIN
// Needs: lk_dep

int lk_order_here(void) { return 1; }
