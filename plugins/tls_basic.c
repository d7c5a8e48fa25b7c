// tls_basic: thread-local variables in the dynamic TLS models that -fPIC
// code uses (general-dynamic, local-dynamic): a counter, a template with
// data, an over-aligned variable, a .tdata pointer that needs a
// relocation, and a large .tbss (the block ends far past the image).
//
// Build: cc -shared -fPIC -O2 -Wall -o tls_basic.so tls_basic.c

#include <stdint.h>
#include <string.h>

// General-dynamic: an exported, zero-initialised (.tbss) counter.
__thread int64_t counter;

int64_t tls_bump(void) { return ++counter; }
int64_t tls_counter(void) { return counter; }

// Template data (.tdata): a thread's first read sees "hello" and zeroes.
static __thread char greeting[16] = "hello";

// tls_greeting returns the first 8 bytes of greeting, little-endian.
int64_t tls_greeting(void) {
	int64_t v;
	memcpy(&v, greeting, sizeof v);
	return v;
}

// tls_greeting_set overwrites greeting's first byte (this thread only).
void tls_greeting_set(int64_t c) { greeting[0] = (char)c; }

// An over-aligned variable: its address modulo 64, and its (zero) value.
__thread int64_t big __attribute__((aligned(64)));

int64_t tls_big_misalign(void) { return (int64_t)((uintptr_t)&big % 64); }
int64_t tls_big_value(void) { return big; }

// A .tdata pointer: the template holds &g only after relocation.
static int g;
static __thread int *pg = &g;

int64_t tls_pointer_ok(void) { return pg == &g; }

// Local-dynamic: two static thread-local variables used by one function,
// forced to the local-dynamic model (one __tls_get_addr call for the
// module, then offsets).
static __thread int64_t ld_a __attribute__((tls_model("local-dynamic"))) = 100;
static __thread int64_t ld_b __attribute__((tls_model("local-dynamic")));

// tls_ld_add adds x to ld_a and returns ld_a + ld_b after bumping ld_b.
int64_t tls_ld_add(int64_t x) {
	ld_a += x;
	ld_b++;
	return ld_a + ld_b;
}

int64_t tls_ld_b(void) { return ld_b; }

// A large .tbss: 256 KiB of zeroes per thread, none of them in the image.
static __thread uint8_t scratch[256 << 10];

// tls_scratch_sum writes x at the last byte and returns the sum of every
// byte (x on a fresh block: the rest must be zero).
int64_t tls_scratch_sum(int64_t x) {
	scratch[sizeof scratch - 1] = (uint8_t)x;
	int64_t s = 0;
	for (size_t i = 0; i < sizeof scratch; i++) {
		s += scratch[i];
	}
	return s;
}

// tls_loop does n general-dynamic accesses (a __tls_get_addr call each:
// the helper is not inlined, so the address is not hoisted): what
// BenchmarkTLSAccess measures.
static __attribute__((noinline)) void loop_once(void) {
	counter++;
	__asm__ volatile("" ::: "memory");
}

int64_t tls_loop(int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		loop_once();
	}
	return counter;
}
