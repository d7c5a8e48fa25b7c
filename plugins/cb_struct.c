// cb_struct: C callers of function pointers that take and return structs
// by value and take more arguments than the registers hold, with a C
// callee of each signature: the host passes a Go callback or the C callee
// to the same caller and compares (loader's TestCallbackStructs).
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o cb_struct.so cb_struct.c

#include <pthread.h>
#include <stdint.h>

struct ii { int64_t a, b; };           // INTEGER, INTEGER: rax:rdx
struct dd { double x, y; };            // SSE, SSE: xmm0:xmm1
struct mix { int32_t i; float f; double d; }; // INTEGER, SSE
struct big { int64_t a, b, c; };       // 24 bytes: MEMORY

// isum and fsum weigh every argument differently: a value in the wrong
// place changes them.
static int64_t isum(struct ii p, struct mix m, struct big b, int64_t x) {
	return p.a * 3 + p.b * 5 + m.i * 7 + b.a * 11 + b.b * 13 + b.c * 17 + x * 19;
}
static double fsum(struct dd q, struct mix m, double y) {
	return q.x * 1.5 + q.y * 2.5 + m.f * 3.5 + m.d * 4.5 + y * 5.5;
}

// The C callees, one per result class.
struct ii cb_ii(struct ii p, struct dd q, struct mix m, struct big b, int64_t x, double y) {
	int64_t i = isum(p, m, b, x);
	return (struct ii){i, i + (int64_t)fsum(q, m, y)};
}
struct dd cb_dd(struct ii p, struct dd q, struct mix m, struct big b, int64_t x, double y) {
	double f = fsum(q, m, y);
	return (struct dd){f, f + (double)isum(p, m, b, x)};
}
struct mix cb_mix(struct ii p, struct dd q, struct mix m, struct big b, int64_t x, double y) {
	return (struct mix){(int32_t)isum(p, m, b, x), (float)fsum(q, m, y), fsum(q, m, y) * 2};
}
struct big cb_big(struct ii p, struct dd q, struct mix m, struct big b, int64_t x, double y) {
	int64_t i = isum(p, m, b, x);
	return (struct big){i, i * 2, (int64_t)fsum(q, m, y)};
}

// cb_many: 7 integers (the 7th on the stack), 9 doubles (the 9th on the
// stack), then a char, a float and a struct ii, all on the stack.
double cb_many(int64_t a1, int64_t a2, int64_t a3, int64_t a4, int64_t a5, int64_t a6, int64_t a7, double d1,
               double d2, double d3, double d4, double d5, double d6, double d7, double d8, double d9, int8_t c,
               float f, struct ii s) {
	return (double)(a1 + 2 * a2 + 3 * a3 + 4 * a4 + 5 * a5 + 6 * a6 + 7 * a7 + 8 * c + 9 * s.a + 10 * s.b) +
	       d1 * 1.5 + d2 * 2.5 + d3 * 3.5 + d4 * 4.5 + d5 * 5.5 + d6 * 6.5 + d7 * 7.5 + d8 * 8.5 + d9 * 9.5 +
	       f * 10.5;
}

// cb_spill: five integers leave one register, too few for a struct ii,
// which goes wholly on the stack; the int64 after it still takes r9.
int64_t cb_spill(int64_t a1, int64_t a2, int64_t a3, int64_t a4, int64_t a5, struct ii s, int64_t a6) {
	return a1 + 2 * a2 + 3 * a3 + 4 * a4 + 5 * a5 + 6 * s.a + 7 * s.b + 8 * a6;
}

typedef struct ii (*fn_ii)(struct ii, struct dd, struct mix, struct big, int64_t, double);
typedef struct dd (*fn_dd)(struct ii, struct dd, struct mix, struct big, int64_t, double);
typedef struct mix (*fn_mix)(struct ii, struct dd, struct mix, struct big, int64_t, double);
typedef struct big (*fn_big)(struct ii, struct dd, struct mix, struct big, int64_t, double);
typedef double (*fn_many)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, double, double,
                          double, double, double, double, double, double, int8_t, float, struct ii);
typedef int64_t (*fn_spill)(int64_t, int64_t, int64_t, int64_t, int64_t, struct ii, int64_t);

// The callers: arguments derived from seed.
#define ARGS(seed)                                                                                            \
	(struct ii){(seed), (seed)*2 - 1}, (struct dd){(seed)*0.25, -(seed)*0.5},                                 \
	    (struct mix){(int32_t)(seed) + 3, (float)(seed)*0.125f, (seed)*1.75},                                   \
	    (struct big){(seed) + 1, (seed) + 2, -(seed)}, (seed)*7, (seed)*0.0625

struct ii call_ii(fn_ii fn, int64_t seed) { return fn(ARGS(seed)); }
struct dd call_dd(fn_dd fn, int64_t seed) { return fn(ARGS(seed)); }
struct mix call_mix(fn_mix fn, int64_t seed) { return fn(ARGS(seed)); }
struct big call_big(fn_big fn, int64_t seed) { return fn(ARGS(seed)); }

double call_many(fn_many fn, int64_t seed) {
	return fn(seed, seed + 1, seed + 2, seed + 3, seed + 4, seed + 5, seed + 6, seed * 0.5, seed * 0.25, 1.0, 2.0,
	          3.0, 4.0, 5.0, 6.0, -seed * 0.75, (int8_t)(-seed), (float)seed * 0.5f, (struct ii){seed * 3, -seed});
}

int64_t call_spill(fn_spill fn, int64_t seed) {
	return fn(seed, seed + 1, seed + 2, seed + 3, seed + 4, (struct ii){seed * 5, seed * 6}, seed * 7);
}

// call_big_thread is call_big on a thread of the plugin's own (outside
// any protected call: the callback entry's direct path).
struct big_job { fn_big fn; int64_t seed; struct big r; };
static void *big_thread(void *p) {
	struct big_job *j = p;
	j->r = call_big(j->fn, j->seed);
	return NULL;
}
struct big call_big_thread(fn_big fn, int64_t seed) {
	struct big_job j = {fn, seed, {0, 0, 0}};
	pthread_t t;
	if (pthread_create(&t, NULL, big_thread, &j) == 0) {
		pthread_join(t, NULL);
	}
	return j.r;
}

// rp_host_big is a host function (loader.RegisterHostFunc) with
// cb_big's signature, when the host registered one (weak: the plugin
// loads without it).
extern struct big rp_host_big(struct ii, struct dd, struct mix, struct big, int64_t, double) __attribute__((weak));

struct big call_host_big(int64_t seed) {
	if (!rp_host_big) {
		return (struct big){0, 0, 0};
	}
	return rp_host_big(ARGS(seed));
}

// Two floats share one SSE eightbyte (xmm0's low 64 bits), and a struct
// of small integers packs into one INTEGER eightbyte.
struct ff { float a, b; };
struct small { int8_t c; int16_t s; int32_t i; };

struct ff cb_ff(struct ff x, float y, struct small k, struct ff z) {
	return (struct ff){x.a * 2 + y + z.b + k.c, x.b * 3 - z.a + k.s + (float)k.i * 0.5f};
}

typedef struct ff (*fn_ff)(struct ff, float, struct small, struct ff);

struct ff call_ff(fn_ff fn, int64_t seed) {
	return fn((struct ff){(float)seed * 0.5f, -(float)seed}, (float)seed * 0.25f,
	          (struct small){(int8_t)(-seed), (int16_t)(seed * 3), (int32_t)(seed * 1000)},
	          (struct ff){1.5f, (float)seed + 0.75f});
}

// loop_big calls fn n times (call_big's arguments, seed i) and sums the
// results' first fields: the struct-callback benchmark.
int64_t loop_big(fn_big fn, int64_t n) {
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++) {
		s += fn(ARGS(i)).a;
	}
	return s;
}

// rax_job: calls fn as the function of a hidden result pointer it is
// (ABI-identical: the buffer in rdi, the rest as before), on a thread of
// the plugin's own, to see the rax it returns: the psABI says the buffer.
typedef void *(*fn_big_rax)(struct big *, struct ii, struct dd, struct mix, struct big, int64_t, double);
struct rax_job { fn_big_rax fn; int64_t seed; int64_t diff; };
static void *rax_thread(void *p) {
	struct rax_job *j = p;
	struct big r = {0, 0, 0};
	void *rax = j->fn(&r, ARGS(j->seed));
	j->diff = (char *)rax - (char *)&r;
	return NULL;
}

// call_big_rax_thread returns the rax fn returned minus its result
// buffer's address: 0 when fn followed the psABI.
int64_t call_big_rax_thread(void *fn, int64_t seed) {
	struct rax_job j = {(fn_big_rax)fn, seed, -1};
	pthread_t t;
	if (pthread_create(&t, NULL, rax_thread, &j) == 0) {
		pthread_join(t, NULL);
	}
	return j.diff;
}
