// cb_va: C callers of variadic function pointers, with a C callee of each
// signature that reads its variable arguments with va_arg: the host passes
// a Go callback (reading them through loader.VarArgs) or the C callee to
// the same caller and compares (loader's TestCallbackVariadic). The cases
// follow libffi's closure tests of variable arguments (a double, an
// unsigned int, an unsigned long, structs small and large among scalars),
// and add spilling past the registers and a fixed part that takes some.
//
// Build: cc -shared -fPIC -O2 -Wall -o cb_va.so cb_va.c

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

struct small { unsigned char a, b; };            // one INTEGER eightbyte
struct large { unsigned a, b, c, d, e; };        // 20 bytes: memory
struct dd { double x, y; };                      // SSE, SSE

// dbl_va: a tag and one double (a float promoted by the caller).
int dbl_va(const char *tag, ...) {
	va_list ap;
	va_start(ap, tag);
	double d = va_arg(ap, double);
	va_end(ap);
	return (int)(d * 100) + (int)strlen(tag);
}
int call_dbl_va(int (*f)(const char *, ...), int64_t seed) {
	float x = (float)seed / 4; // promoted to double
	return f("seven", x) + f("", (double)seed * 1.5);
}

// uint_va: unsigned int, then one more (libffi's cls_uint_va).
unsigned uint_va(unsigned a, ...) {
	va_list ap;
	va_start(ap, a);
	unsigned b = va_arg(ap, unsigned);
	va_end(ap);
	return a * 3 + b;
}
unsigned call_uint_va(unsigned (*f)(unsigned, ...), int64_t seed) {
	return f((unsigned)seed, (unsigned)seed + 4000000000u);
}

// ulong_va: unsigned long, then one more (libffi's cls_ulong_va).
unsigned long ulong_va(unsigned long a, ...) {
	va_list ap;
	va_start(ap, a);
	unsigned long b = va_arg(ap, unsigned long);
	va_end(ap);
	return a ^ (b << 1);
}
unsigned long call_ulong_va(unsigned long (*f)(unsigned long, ...), int64_t seed) {
	return f((unsigned long)seed << 33, 0xfedcba9876543210ul + (unsigned long)seed);
}

// struct_va: structs among scalars in the variable part (libffi's
// cls_struct_va1 and friends): small (in a register), large (on the
// stack), small, then char and short (promoted to int), a float (to
// double), a pointer and a two-double struct.
int64_t struct_va(int n, ...) {
	va_list ap;
	va_start(ap, n);
	struct small s1 = va_arg(ap, struct small);
	struct large l = va_arg(ap, struct large);
	struct small s2 = va_arg(ap, struct small);
	int c = va_arg(ap, int);
	int sh = va_arg(ap, int);
	double f = va_arg(ap, double);
	const char *p = va_arg(ap, const char *);
	struct dd q = va_arg(ap, struct dd);
	va_end(ap);
	return (int64_t)n + s1.a * 3 + s1.b * 5 + (int64_t)l.a * 7 + (int64_t)l.b * 11 + (int64_t)l.c * 13 +
	       (int64_t)l.d * 17 + (int64_t)l.e * 19 + s2.a * 23 + s2.b * 29 + c * 31 + sh * 37 + (int64_t)(f * 41) +
	       (int64_t)strlen(p) * 43 + (int64_t)(q.x * 47) + (int64_t)(q.y * 53);
}
int64_t call_struct_va(int64_t (*f)(int, ...), int64_t seed) {
	struct small s1 = {(unsigned char)(seed + 1), (unsigned char)(seed + 2)};
	struct large l = {(unsigned)seed + 3, (unsigned)seed + 4, (unsigned)seed + 5, (unsigned)seed + 6, (unsigned)seed + 7};
	struct small s2 = {(unsigned char)(seed + 8), 200};
	char c = (char)-5;
	short sh = (short)(seed * -100);
	float fl = (float)seed + 0.25f;
	struct dd q = {(double)seed / 3, -2.5};
	return f((int)seed, s1, l, s2, c, sh, fl, "variadic", q);
}

// mix_va: n pairs of (int, double) in the variable part: past six
// integer and eight vector registers both spill to the stack, in order.
double mix_va(int n, ...) {
	va_list ap;
	va_start(ap, n);
	double s = 0;
	for (int i = 0; i < n; i++) {
		int k = va_arg(ap, int);
		double x = va_arg(ap, double);
		s += k * (i + 1) + x * (i + 2);
	}
	va_end(ap);
	return s;
}
double call_mix_va(double (*f)(int, ...), int64_t seed) {
	int k = (int)seed;
	return f(12, k, 0.5, k + 1, 1.5, k + 2, 2.5, k + 3, 3.5, k + 4, 4.5, k + 5, 5.5, k + 6, 6.5, k + 7, 7.5, k + 8, 8.5,
	         k + 9, 9.5, k + 10, 10.5, k - 11, -11.5);
}

// fixed_va: a fixed part that takes two vector registers and a hidden
// result pointer (a large result), then doubles and ints.
struct large fixed_va(struct dd p, double x, ...) {
	va_list ap;
	va_start(ap, x);
	double y = va_arg(ap, double);
	long a = va_arg(ap, long);
	double z = va_arg(ap, double);
	long b = va_arg(ap, long);
	va_end(ap);
	// p.x may be negative: through long, whose conversion to unsigned
	// wraps (a negative double's is undefined: AArch64 saturates to 0).
	return (struct large){(unsigned)(long)(p.x * 2), (unsigned)(p.y * 3), (unsigned)(x + y), (unsigned)(a * 5 + b),
	                      (unsigned)(z * 7)};
}
int64_t call_fixed_va(struct large (*f)(struct dd, double, ...), int64_t seed) {
	struct large r = f((struct dd){(double)seed, 4.5}, 10.25, 20.5, (long)seed * 3, 1.75, -9L);
	return r.a + ((int64_t)r.b << 8) + ((int64_t)r.c << 16) + ((int64_t)r.d << 24) + ((int64_t)r.e << 40);
}
