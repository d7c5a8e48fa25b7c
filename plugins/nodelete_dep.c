// nodelete_dep: a plain library that nodelete_mid needs. Its counter is
// written by nodelete_mid's destructor, which runs when the Loader closes:
// the library must still be mapped then.
//
// Build: cc -shared -fPIC -O2 -Wall -o nodelete_dep.so nodelete_dep.c

static volatile long finis;

long nodelete_dep_note(void) { return ++finis; }
