// nodelete_root: a plain plugin that needs nodelete_mid (DF_1_NODELETE),
// which needs nodelete_dep.
//
// Build: cc -shared -fPIC -O2 -Wall -o nodelete_root.so nodelete_root.c -L. -l:nodelete_mid.so -Wl,-rpath,$ORIGIN
// Needs: nodelete_mid nodelete_dep

long nodelete_mid_ping(void);

long ping(void) { return nodelete_mid_ping(); }
