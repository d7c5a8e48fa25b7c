// cb_ld: C callers of function pointers that take and return long double
// (IEEE binary128 in whole q registers on AArch64; x87 extended, in
// memory, on x86-64), with a C callee of each signature: the host passes
// a Go callback (taking abi.LongDoubleValue) or the C callee to the same
// caller and compares (loader's TestCallbackLongDouble). After libffi's
// closure tests cls_longdouble.c, cls_longdouble_va.c and
// cls_align_longdouble_split.c. Every value is a small multiple of a
// power of two, so the callees' arithmetic is exact in double too.
//
// Build: cc -shared -fPIC -O2 -Wall -o cb_ld.so cb_ld.c

#include <stdarg.h>

typedef struct { long double a, b; } ld2; // an HFA of two on AArch64
typedef struct { long double a, b, c; } ld3;

// ld_args: long doubles among other arguments, and an HFA of two.
double ld_args(int k, long double a, double d, ld2 s, long double c) {
	return k + (double)a * 2 + d * 3 + (double)s.a * 4 + (double)s.b * 5 + (double)c * 6;
}
double call_ld_args(double (*f)(int, long double, double, ld2, long double), long seed) {
	ld2 s = {seed * 0.5L, -0.25L};
	return f((int)seed, seed + 0.5L, 0.125, s, seed * 4.0L);
}

// ld_many: ten long doubles (on AArch64 q0-q7, then the stack) and a
// double after them (the stack too: no v register is left).
double ld_many(long double a1, long double a2, long double a3, long double a4, long double a5,
               long double a6, long double a7, long double a8, long double a9, long double a10, double d) {
	return (double)(a1 + 2 * a2 + 3 * a3 + 4 * a4 + 5 * a5 + 6 * a6 + 7 * a7 + 8 * a8 + 9 * a9 + 10 * a10) + 11 * d;
}
double call_ld_many(double (*f)(long double, long double, long double, long double, long double, long double,
                                long double, long double, long double, long double, double),
                    long seed) {
	long double x = seed;
	return f(x, x + 1, x + 2, x + 3, x + 4, x + 5, x + 6, x + 7, x + 8, x + 9, 0.5);
}

// ld_scale: a long double result (q0 on AArch64; x87's st0, which a Go
// function cannot return, on x86-64).
long double ld_scale(long double x, int k) { return x * k; }
double call_ld_scale(long double (*f)(long double, int), long seed) {
	return (double)(f(seed * 0.25L + 1, 3) + 1);
}

// ld_hfa3: an HFA of three long doubles back (q0-q2 on AArch64; memory
// through the hidden pointer on x86-64).
ld3 ld_hfa3(ld2 in, float f) {
	ld3 r = {in.a * f, in.b + 1, in.a - in.b};
	return r;
}
double call_ld_hfa3(ld3 (*f)(ld2, float), long seed) {
	ld2 in = {seed + 0.5L, seed * 2.0L};
	ld3 r = f(in, 0.25f);
	return (double)r.a + 10 * (double)r.b + 100 * (double)r.c;
}

// ld_va: long doubles in the variable part (on AArch64 Linux as named
// arguments, in q registers; on x86-64 in memory).
double ld_va(int n, ...) {
	va_list ap;
	va_start(ap, n);
	double s = 0;
	for (int i = 1; i <= n; i++)
		s += i * (double)va_arg(ap, long double);
	va_end(ap);
	return s;
}
double call_ld_va(double (*f)(int, ...), long seed) {
	return f(3, seed + 0.5L, -0.75L * seed, 2.0L);
}
