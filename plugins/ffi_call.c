// ffi_call: the x86-64 cases of libffi's testsuite/libffi.call, as callees
// for runplug's general call (loader.Signature, the typed bindings with
// structs and stack arguments, variadic calls). Each callee NAME has a
// direct caller NAME_direct(void **a, void *r) that calls it from C with
// the arguments *a[i] (in C layout, as libffi's avalue) and stores the
// result at r: the tests compare what runplug's call returns with what gcc's
// own call of the same function returns. Callees weight each argument by
// its position, so a swapped or misplaced argument changes the result.
// The cases are written anew after libffi's (named in each comment); no
// libffi code is copied.
//
// Build: cc -shared -fPIC -O2 -Wall -o ffi_call.so ffi_call.c

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#define A(i, T) (*(T *)a[i])

// many.c: 13 floats, 8 in xmm0-7 and 5 on the stack.
float many_f(float f1, float f2, float f3, float f4, float f5, float f6, float f7,
             float f8, float f9, float f10, float f11, float f12, float f13) {
	return f1 + 2 * f2 + 3 * f3 + 4 * f4 + 5 * f5 + 6 * f6 + 7 * f7 + 8 * f8 + 9 * f9 +
	       10 * f10 + 11 * f11 + 12 * f12 + 13 * f13;
}
void many_f_direct(void **a, void *r) {
	*(float *)r = many_f(A(0, float), A(1, float), A(2, float), A(3, float), A(4, float),
	                     A(5, float), A(6, float), A(7, float), A(8, float), A(9, float),
	                     A(10, float), A(11, float), A(12, float));
}

// many_double.c
double many_d(double f1, double f2, double f3, double f4, double f5, double f6, double f7,
              double f8, double f9, double f10, double f11, double f12, double f13) {
	return (f1 / f2 + f3 / f4 + f5 / f6 + f7 / f8 + f9 / f10 + f11 / f12) * f13;
}
void many_d_direct(void **a, void *r) {
	*(double *)r = many_d(A(0, double), A(1, double), A(2, double), A(3, double), A(4, double),
	                      A(5, double), A(6, double), A(7, double), A(8, double), A(9, double),
	                      A(10, double), A(11, double), A(12, double));
}

// many_mixed.c: doubles and longs interleaved, both kinds spilling.
double many_mixed(double f1, long i1, double f2, long i2, double f3, long i3, double f4,
                  long i4, double f5, long i5, double f6, long i6, double f7, long i7,
                  double f8, long i8, double f9, double f10, long i9) {
	return f1 + 2 * f2 + 3 * f3 + 4 * f4 + 5 * f5 + 6 * f6 + 7 * f7 + 8 * f8 + 9 * f9 +
	       10 * f10 + (double)(i1 + 2 * i2 + 3 * i3 + 4 * i4 + 5 * i5 + 6 * i6 + 7 * i7 +
	                           8 * i8 + 9 * i9);
}
void many_mixed_direct(void **a, void *r) {
	*(double *)r = many_mixed(A(0, double), A(1, long), A(2, double), A(3, long), A(4, double),
	                          A(5, long), A(6, double), A(7, long), A(8, double), A(9, long),
	                          A(10, double), A(11, long), A(12, double), A(13, long),
	                          A(14, double), A(15, long), A(16, double), A(17, double),
	                          A(18, long));
}

// many2.c / negint.c / promotion.c: every integer width, signed and not,
// in registers and on the stack (sign and zero extension both ways).
int64_t many_ints(int8_t a, int16_t b, int32_t c, int64_t d, uint8_t e, uint16_t f,
                  uint32_t g, uint64_t h, int8_t i, int16_t j, int32_t k, int64_t l,
                  uint8_t m, uint16_t n, uint32_t o, uint64_t p) {
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * (int64_t)g + 8 * h + 9 * i + 10 * j +
	       11 * k + 12 * l + 13 * m + 14 * n + 15 * (int64_t)o + 16 * p;
}
void many_ints_direct(void **a, void *r) {
	*(int64_t *)r = many_ints(A(0, int8_t), A(1, int16_t), A(2, int32_t), A(3, int64_t),
	                          A(4, uint8_t), A(5, uint16_t), A(6, uint32_t), A(7, uint64_t),
	                          A(8, int8_t), A(9, int16_t), A(10, int32_t), A(11, int64_t),
	                          A(12, uint8_t), A(13, uint16_t), A(14, uint32_t), A(15, uint64_t));
}

int promotion(signed char sc, signed short ss, unsigned char uc, unsigned short us) {
	return (int)sc + 3 * (int)ss + 5 * (int)uc + 7 * (int)us;
}
void promotion_direct(void **a, void *r) {
	*(int *)r = promotion(A(0, signed char), A(1, signed short), A(2, unsigned char), A(3, unsigned short));
}

// return_sc.c, return_uc.c, return_fl2.c: narrow results.
signed char return_sc(signed char sc) { return (signed char)(sc - 1); }
void return_sc_direct(void **a, void *r) { *(signed char *)r = return_sc(A(0, signed char)); }
unsigned short return_us(unsigned short us) { return (unsigned short)(us + 1); }
void return_us_direct(void **a, void *r) { *(unsigned short *)r = return_us(A(0, unsigned short)); }
float return_fl(float f1, float f2, float f3, float f4) { return f1 + 2 * f2 + 3 * f3 + 4 * f4; }
void return_fl_direct(void **a, void *r) { *(float *)r = return_fl(A(0, float), A(1, float), A(2, float), A(3, float)); }

// float1.c-float4.c: float and double mixed with integers.
double float_mix(float a, double b, int c, float d, long e, double f, unsigned char g) {
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g;
}
void float_mix_direct(void **a, void *r) {
	*(double *)r = float_mix(A(0, float), A(1, double), A(2, int), A(3, float), A(4, long), A(5, double), A(6, unsigned char));
}

// struct_by_value_small.c: three bytes, one INTEGER eightbyte.
typedef struct { unsigned char a, b, c; } s3b;
s3b s3b_fn(s3b s, s3b t) {
	s3b r = {(unsigned char)(s.a + t.c), (unsigned char)(s.b * 2 + t.b), (unsigned char)(s.c * 3 + t.a)};
	return r;
}
void s3b_fn_direct(void **a, void *r) { *(s3b *)r = s3b_fn(A(0, s3b), A(1, s3b)); }

// struct_by_value_3.c: 12 bytes, two INTEGER eightbytes (rax:rdx).
typedef struct { unsigned a, b, c; } s3;
s3 s3_fn(s3 s) { s3 r = {s.a + 1, s.b * 2, s.c * 3 + s.a}; return r; }
void s3_fn_direct(void **a, void *r) { *(s3 *)r = s3_fn(A(0, s3)); }

// struct_by_value_3f.c: three floats, two SSE eightbytes (xmm0:xmm1).
typedef struct { float a, b, c; } s3f;
s3f s3f_fn(s3f s) { s3f r = {s.a + 1, s.b * 2, s.c * 3 + s.a}; return r; }
void s3f_fn_direct(void **a, void *r) { *(s3f *)r = s3f_fn(A(0, s3f)); }

// struct_by_value_4.c and 4f.c: 16 bytes.
typedef struct { unsigned a, b, c, d; } s4;
s4 s4_fn(s4 s, s4 t) { s4 r = {s.a + t.d, s.b + 2 * t.c, s.c + 3 * t.b, s.d + 4 * t.a}; return r; }
void s4_fn_direct(void **a, void *r) { *(s4 *)r = s4_fn(A(0, s4), A(1, s4)); }
typedef struct { float a, b, c, d; } s4f;
s4f s4f_fn(s4f s, float k) { s4f r = {s.a * k, s.b + k, s.c - k, s.d / k}; return r; }
void s4f_fn_direct(void **a, void *r) { *(s4f *)r = s4f_fn(A(0, s4f), A(1, float)); }

// struct_by_value_big.c: 68 bytes: MEMORY both ways (a stack copy in, a
// hidden pointer out).
typedef struct { unsigned u[17]; } sbig;
sbig sbig_fn(sbig s) {
	sbig r;
	for (int i = 0; i < 17; i++)
		r.u[i] = s.u[i] * (unsigned)(i + 1) + s.u[16 - i];
	return r;
}
void sbig_fn_direct(void **a, void *r) { *(sbig *)r = sbig_fn(A(0, sbig)); }

// struct_int_float.c: INTEGER then SSE eightbyte, four of them (the fifth
// no longer fits: ints run out first).
typedef struct { unsigned long i; float f; } int_float;
float int_float_fn(int_float a, int_float b, int_float c, int_float d, int_float e) {
	return a.f + 2 * b.f + 3 * c.f + 4 * d.f + 5 * e.f +
	       (float)(a.i + 2 * b.i + 3 * c.i + 4 * d.i + 5 * e.i);
}
void int_float_fn_direct(void **a, void *r) {
	*(float *)r = int_float_fn(A(0, int_float), A(1, int_float), A(2, int_float), A(3, int_float), A(4, int_float));
}

// Mixed results: SSE then INTEGER (xmm0, rax) and INTEGER then SSE (rax, xmm0).
typedef struct { double d; long l; } dl;
typedef struct { long l; double d; } ld;
dl dl_fn(ld x, dl y, float k) { dl r = {x.d * k + y.d, x.l * 3 + y.l}; return r; }
void dl_fn_direct(void **a, void *r) { *(dl *)r = dl_fn(A(0, ld), A(1, dl), A(2, float)); }
ld ld_fn(dl x, int k) { ld r = {x.l + k, x.d / k}; return r; }
void ld_fn_direct(void **a, void *r) { *(ld *)r = ld_fn(A(0, dl), A(1, int)); }

// many_small_structs.c: 40 eight-byte structs, 6 in registers.
typedef struct { int a, b; } small;
small many_small(small s0, small s1, small s2, small s3, small s4, small s5, small s6, small s7,
                 small s8, small s9, small s10, small s11, small s12, small s13, small s14,
                 small s15, small s16, small s17, small s18, small s19, small s20, small s21,
                 small s22, small s23, small s24, small s25, small s26, small s27, small s28,
                 small s29, small s30, small s31, small s32, small s33, small s34, small s35,
                 small s36, small s37, small s38, small s39) {
	small all[40] = {s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13,
	                 s14, s15, s16, s17, s18, s19, s20, s21, s22, s23, s24, s25, s26, s27,
	                 s28, s29, s30, s31, s32, s33, s34, s35, s36, s37, s38, s39};
	small r = {0, 0};
	for (int i = 0; i < 40; i++) {
		r.a += all[i].a * (i + 1);
		r.b += all[i].b * (i + 2);
	}
	return r;
}
#define S(i) A(i, small)
void many_small_direct(void **a, void *r) {
	*(small *)r = many_small(S(0), S(1), S(2), S(3), S(4), S(5), S(6), S(7), S(8), S(9), S(10),
	                         S(11), S(12), S(13), S(14), S(15), S(16), S(17), S(18), S(19), S(20),
	                         S(21), S(22), S(23), S(24), S(25), S(26), S(27), S(28), S(29), S(30),
	                         S(31), S(32), S(33), S(34), S(35), S(36), S(37), S(38), S(39));
}

// many_large_structs.c: 16 32-byte structs, all in memory.
typedef struct { unsigned char b[32]; } big;
int sum_big(big s0, big s1, big s2, big s3, big s4, big s5, big s6, big s7, big s8, big s9,
            big s10, big s11, big s12, big s13, big s14, big s15) {
	big *all[16] = {&s0, &s1, &s2, &s3, &s4, &s5, &s6, &s7, &s8, &s9, &s10, &s11, &s12, &s13, &s14, &s15};
	int sum = 0;
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 32; j++)
			sum += all[i]->b[j] * (i + 1) + j;
	return sum;
}
#define B(i) A(i, big)
void sum_big_direct(void **a, void *r) {
	*(int *)r = sum_big(B(0), B(1), B(2), B(3), B(4), B(5), B(6), B(7), B(8), B(9), B(10), B(11),
	                    B(12), B(13), B(14), B(15));
}

// A struct that no longer fits in the registers left goes wholly to the
// stack, and a later scalar still takes the last register.
typedef struct { long x, y; } pair;
long no_room(long a, long b, long c, long d, long e, pair p, long f) {
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * p.x + 7 * p.y + 8 * f;
}
void no_room_direct(void **a, void *r) {
	*(long *)r = no_room(A(0, long), A(1, long), A(2, long), A(3, long), A(4, long), A(5, pair), A(6, long));
}

// i128-1.c: __int128 in register pairs, and on the stack 16-byte aligned.
__int128 i128_fn(long a, __int128 b, long c, long d, __int128 e, long f, __int128 g) {
	return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g;
}
void i128_fn_direct(void **a, void *r) {
	*(__int128 *)r = i128_fn(A(0, long), A(1, __int128), A(2, long), A(3, long), A(4, __int128), A(5, long), A(6, __int128));
}

// float_va.c: a variadic function summing n doubles.
double float_va(unsigned n, double y, ...) {
	va_list ap;
	double total = n + y;
	va_start(ap, y);
	for (unsigned i = 0; i < n; i++)
		total += va_arg(ap, double) * (i + 2);
	va_end(ap);
	return total;
}
void float_va_direct(void **a, void *r) {
	// The variable part of the test's call: 10 doubles (xmm1-7, then the stack).
	*(double *)r = float_va(A(0, unsigned), A(1, double), A(2, double), A(3, double), A(4, double),
	                        A(5, double), A(6, double), A(7, double), A(8, double), A(9, double),
	                        A(10, double), A(11, double));
}

// va_1.c / va_struct1.c: structs in the variable part; promoted char,
// short and float.
struct small_tag { unsigned char a, b; };
struct large_tag { unsigned a, b, c, d, e; };
long va_struct(int n, ...) {
	va_list ap;
	va_start(ap, n);
	struct small_tag s1 = va_arg(ap, struct small_tag);
	struct large_tag l = va_arg(ap, struct large_tag);
	int c = va_arg(ap, int);          // a char, promoted
	double f = va_arg(ap, double);    // a float, promoted
	struct small_tag s2 = va_arg(ap, struct small_tag);
	int sh = va_arg(ap, int);         // a short, promoted
	va_end(ap);
	return n + 2 * s1.a + 3 * s1.b + 5 * l.a + 7 * l.b + 11 * l.c + 13 * l.d + 17 * l.e +
	       19 * c + (long)(23 * f) + 29 * s2.a + 31 * s2.b + 37 * sh;
}
void va_struct_direct(void **a, void *r) {
	*(long *)r = va_struct(A(0, int), A(1, struct small_tag), A(2, struct large_tag), A(3, signed char),
	                       A(4, float), A(5, struct small_tag), A(6, short));
}

// An snprintf-like function of a plugin: the variable part goes on to
// libc's vsnprintf.
int fmt_str(char *buf, unsigned long n, const char *format, ...) {
	va_list ap;
	va_start(ap, format);
	int k = vsnprintf(buf, n, format, ap);
	va_end(ap);
	return k;
}

// The benchmark's 24-byte struct (MEMORY: in on the stack, out through
// the hidden pointer).
typedef struct { int64_t a, b, c; } s24;
s24 s24_fn(s24 s) { s24 r = {s.a + 1, s.b + s.a, s.c ^ s.b}; return r; }
void s24_fn_direct(void **a, void *r) { *(s24 *)r = s24_fn(A(0, s24)); }

// Protection on the general path: a fault with stack arguments and a
// result in memory, and a loop that only a deadline ends.
s24 s24_crash(s24 s, long a, long b, long c, long d, long e, long *p) {
	s.a += a + b + c + d + e + *p;
	return s;
}
long spin_stack(long a, long b, long c, long d, long e, long f, long g) {
	volatile long x = a + b + c + d + e + f + g;
	for (;;)
		x++;
	return x;
}

// A general call (result in memory, stack arguments) during which the host
// runs a callback: the host's goroutine stack may move under the call.
s24 s24_via(s24 s, long a, long b, long c, long d, long e, long f, long g, long (*cb)(long)) {
	long k = cb(s.a);
	s24 r = {s.a + k, s.b + g + a + b + c + d + e, s.c + f};
	return r;
}

// long double (x87, 16 bytes) is passed in memory: as an argument it can be
// called, with its bytes given by the host.
double ld_arg(int k, long double x, double y) { return (double)(x * k) + y; }
void ld_arg_direct(void **a, void *r) { *(double *)r = ld_arg(A(0, int), A(1, long double), A(2, double)); }

// return_ldl.c: a long double result comes back in st0.
long double ld_ret(long double x, int k, double y) { return x * k + y; }
void ld_ret_direct(void **a, void *r) { *(long double *)r = ld_ret(A(0, long double), A(1, int), A(2, double)); }

// cls_longdouble.c: ten long doubles and a double. On AArch64 (IEEE
// binary128) the first eight take q0-q7 whole, the rest 16-byte stack
// slots, and the double the stack too (no v register is left); on x86-64
// every long double is in memory.
long double ld_many(long double a1, long double a2, long double a3, long double a4, long double a5,
                    long double a6, long double a7, long double a8, long double a9, long double a10, double d) {
	return a1 + 2 * a2 + 3 * a3 + 4 * a4 + 5 * a5 + 6 * a6 + 7 * a7 + 8 * a8 + 9 * a9 + 10 * a10 + 11 * d;
}
void ld_many_direct(void **a, void *r) {
	*(long double *)r = ld_many(A(0, long double), A(1, long double), A(2, long double), A(3, long double),
	                            A(4, long double), A(5, long double), A(6, long double), A(7, long double),
	                            A(8, long double), A(9, long double), A(10, double));
}

// cls_align_longdouble_split.c, as homogeneous aggregates: on AArch64 a
// struct of up to four long doubles travels in q registers, one member
// each, as an argument and as a result (q0-q2 here); on x86-64 in memory.
typedef struct { long double a, b, c; } ld3;
typedef struct { long double a, b; } ld2;
ld3 ld_hfa(float f, ld3 x, ld2 y, int k) {
	ld3 r = {x.a * k + y.a, x.b - y.b * f, x.c + x.a};
	return r;
}
void ld_hfa_direct(void **a, void *r) { *(ld3 *)r = ld_hfa(A(0, float), A(1, ld3), A(2, ld2), A(3, int)); }

// cls_longdouble_va.c: long doubles in the variable part (on AArch64
// Linux passed as named arguments are, in q registers).
long double ld_va(int n, ...) {
	va_list ap;
	va_start(ap, n);
	long double s = 0;
	for (int i = 1; i <= n; i++)
		s += i * va_arg(ap, long double);
	va_end(ap);
	return s;
}
void ld_va_direct(void **a, void *r) {
	*(long double *)r = ld_va(A(0, int), A(1, long double), A(2, long double), A(3, long double));
}
