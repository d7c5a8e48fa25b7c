// spin_dtor: a destructor that never returns. Close would wait forever,
// holding the Loader; CloseContext interrupts it at its deadline.
//
// Build: cc -shared -fPIC -O2 -Wall -o spin_dtor.so spin_dtor.c

__attribute__((destructor)) static void fini(void) {
	for (;;) {
		__asm__ volatile("" ::: "memory");
	}
}

int ping(int x) { return x + 1; }
