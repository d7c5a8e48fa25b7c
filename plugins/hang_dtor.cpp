// hang_dtor: a C++ static destructor that faults. g++ registers it with
// __cxa_atexit and crtbegin's destructor runs it through __cxa_finalize,
// both runplug's (sandbox/dl.c): the fault unwinds out of runplug's
// __cxa_finalize, which must hold no lock then, or the Close that ran it,
// and every Load and Close after it, would wait forever.
//
// Build: c++ -shared -fPIC -O2 -Wall -o hang_dtor.so hang_dtor.cpp

struct Bad {
	~Bad() { *(volatile int *)0 = 1; }
};
static Bad b;

extern "C" int ping(int x) { return x + 1; }
