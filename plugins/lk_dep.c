// lk_dep: defines two names glibc's libraries define too (abs from libc,
// cos from libm), so that lk_order can show the order of Plugin.Lookup's
// search (dlsym's on a handle).
//
// Build: cc -shared -fPIC -O2 -Wall -fno-builtin -Wl,-soname,lk_dep.so -o lk_dep.so lk_dep.c

int abs(int x) { return 4242; }

double cos(double x) { return 42.0; }
