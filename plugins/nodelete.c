// nodelete: an object linked with -z nodelete (DF_1_NODELETE). glibc
// keeps it resident after dlclose, its state intact for the next dlopen;
// runplug keeps it until the Loader closes. Its counter and constructor
// runs show whether the state survived.
//
// Build: cc -shared -fPIC -O2 -Wall -o nodelete.so nodelete.c -Wl,-z,nodelete

static long counter;
static long ctors;

__attribute__((constructor)) static void init(void) { ctors++; }

long bump(void) { return ++counter; }
long ctor_runs(void) { return ctors; }
