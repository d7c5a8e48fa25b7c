// ctor_spin: a constructor that computes for ever and makes no system
// call (which an isolated child's filter might stop): only the Load's
// context ends it.
//
// Build: cc -shared -fPIC -O2 -Wall -o ctor_spin.so ctor_spin.c

volatile unsigned long ctor_spin_count;

__attribute__((constructor)) static void spin(void) {
	for (;;)
		ctor_spin_count++;
}

int ctor_spin_never(void) { return 0; }
