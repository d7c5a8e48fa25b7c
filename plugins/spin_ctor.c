// spin_ctor: a constructor that never returns. Load would wait forever,
// holding the Loader; LoadContext interrupts it at its deadline.
//
// Build: cc -shared -fPIC -O2 -Wall -o spin_ctor.so spin_ctor.c

__attribute__((constructor)) static void init(void) {
	for (;;) {
		__asm__ volatile("" ::: "memory");
	}
}

int ping(int x) { return x + 1; }
