// cb_regs: callers of function pointers whose arguments and results take
// AArch64's registers past x86-64's: x6 and x7, an HFA of four doubles
// back in d0-d3, and a 24-byte struct back through the buffer x8 points
// to, with a C callee of each: the host passes a Go callback or the C
// callee, in process and to an isolated plugin (isolate's
// TestCallbackRegisters).
//
// Build: cc -shared -fPIC -O2 -Wall -o cb_regs.so cb_regs.c

typedef struct { double a, b, c, d; } d4;
typedef struct { long a, b, c; } l3;

d4 cb_d4(long a1, long a2, long a3, long a4, long a5, long a6, long a7, long a8, double x) {
	d4 r = {a1 + 2 * a2, a3 * a4 + 0.5, a5 - 3 * a6, 7 * a7 + a8 + x};
	return r;
}
double call_d4(d4 (*f)(long, long, long, long, long, long, long, long, double), long seed) {
	d4 r = f(seed, seed + 1, seed + 2, seed + 3, seed + 4, seed + 5, seed * 6, -seed * 7, seed * 0.25);
	return r.a + 10 * r.b + 100 * r.c + 1000 * r.d;
}

l3 cb_l3(long a, double x) {
	l3 r = {a, a * 2, (long)(x * 4)};
	return r;
}
long call_l3(l3 (*f)(long, double), long seed) {
	l3 r = f(seed * 3, seed + 0.5);
	return r.a + 3 * r.b + 5 * r.c;
}
