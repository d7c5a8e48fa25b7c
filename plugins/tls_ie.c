// tls_ie: thread-local variables in the static TLS (initial-exec) model:
// R_X86_64_TPOFF64 (R_AARCH64_TLS_TPREL64) GOT entries and DT_FLAGS
// DF_STATIC_TLS. runplug gives
// the object room in every thread's static TLS block (glibc's surplus).
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o tls_ie.so tls_ie.c

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define IE __attribute__((tls_model("initial-exec")))

// .tbss: zero in every thread.
__thread int64_t ie_counter IE;

// .tdata: "static!" in every thread until it writes its own.
static __thread char ie_greeting[16] IE = "static!";

// A .tdata pointer: the template holds &ie_target only after relocation.
static int ie_target;
static __thread int *ie_ptr IE = &ie_target;

// A variable the object reaches both ways: the general-dynamic model
// (__tls_get_addr from C on x86-64, a TLS descriptor on AArch64) and
// initial-exec (TPOFF64, from the asm).
__thread int64_t ie_both;

int64_t tls_ie_bump(void) { return ++ie_counter; }
int64_t tls_ie_counter(void) { return ie_counter; }

int64_t tls_ie_greeting(void) {
	int64_t v;
	memcpy(&v, ie_greeting, sizeof v);
	return v;
}

void tls_ie_greeting_set(int64_t c) { ie_greeting[0] = (char)c; }

int64_t tls_ie_pointer_ok(void) { return ie_ptr == &ie_target; }

// tls_ie_models_agree returns 1 when the initial-exec address of ie_both
// is its general-dynamic address.
int64_t tls_ie_models_agree(void) {
	int64_t *ie;
#if defined(__aarch64__)
	int64_t *tp;
	__asm__("mrs %1, tpidr_el0\n\t"
		"adrp %0, :gottprel:ie_both\n\t"
		"ldr %0, [%0, #:gottprel_lo12:ie_both]\n\t"
		"add %0, %0, %1"
		: "=&r"(ie), "=&r"(tp));
#else
	__asm__("movq ie_both@gottpoff(%%rip), %0\n\taddq %%fs:0, %0" : "=r"(ie));
#endif
	return ie == &ie_both;
}

// What a thread the plugin makes itself sees.
static void *ie_thread(void *arg) {
	int64_t *out = arg;
	out[0] = tls_ie_counter();
	out[1] = tls_ie_greeting();
	out[2] = tls_ie_pointer_ok();
	for (int i = 0; i < 3; i++) {
		tls_ie_bump();
	}
	out[3] = tls_ie_counter();
	return NULL;
}

// tls_ie_thread runs ie_thread on a new pthread and returns 1 when that
// thread saw a fresh copy (counter 0, the template's greeting, the
// relocated pointer), and kept its own bumps; else a code naming the
// first check that failed.
int64_t tls_ie_thread(void) {
	int64_t out[4] = {-1, -1, -1, -1};
	pthread_t th;
	if (pthread_create(&th, NULL, ie_thread, out) != 0) {
		return -1;
	}
	pthread_join(th, NULL);
	int64_t hello;
	memcpy(&hello, "static!\0", 8);
	if (out[0] != 0) return 10;
	if (out[1] != hello) return 11;
	if (out[2] != 1) return 12;
	if (out[3] != 3) return 13;
	return 1;
}

// tls_ie_loop does n initial-exec accesses (see tls_basic.c's tls_loop).
static __attribute__((noinline)) void loop_once(void) {
	ie_counter++;
	__asm__ volatile("" ::: "memory");
}

int64_t tls_ie_loop(int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		loop_once();
	}
	return ie_counter;
}
