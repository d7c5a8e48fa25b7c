//go:build linux && cgo

// rawsys_amd64.c: pidns.c's raw system call on x86-64.

long rp_raw(long nr, long a, long b, long c, long d) {
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = 0; // prctl checks its fifth argument
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
	return r;
}
