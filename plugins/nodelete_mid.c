// nodelete_mid: a dependency linked with -z nodelete that needs
// nodelete_dep and calls it from its destructor, as libLLVM's destructors
// call libstdc++: the NODELETE object keeps what it needs loaded (glibc
// does the same), so the call finds it mapped when the Loader closes.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-z,nodelete -o nodelete_mid.so nodelete_mid.c -L. -l:nodelete_dep.so -Wl,-rpath,$ORIGIN
// Needs: nodelete_dep

long nodelete_dep_note(void);

long nodelete_mid_ping(void) { return 7; }

__attribute__((destructor)) static void fini(void) { nodelete_dep_note(); }
