// tls_desc_ie: TLS descriptors (-mtls-dialect=gnu2) in an object that also
// has initial-exec code, so its module is in static TLS and its
// descriptors get runplug's static resolver.
//
// Build: cc -shared -fPIC -O2 -Wall -mtls-dialect=gnu2 -o tls_desc_ie.so tls_desc_ie.c

#include <stdint.h>

__thread int64_t di_counter = 5; // through a descriptor
static __thread int64_t di_ie __attribute__((tls_model("initial-exec")));

int64_t tls_desc_ie_bump(void) {
	di_ie++;
	return ++di_counter;
}

// tls_desc_ie_static returns 1 when the descriptor's address of
// di_counter lies in the thread's static TLS block: below the thread
// pointer, within 64 KiB. (Reaching di_counter by initial-exec code too
// would make the linker turn its descriptors into TPOFF64.)
int64_t tls_desc_ie_static(void) {
	char *tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	char *p = (char *)&di_counter;
	return p < tp && tp - p < (64 << 10);
}

// tls_desc_ie_loop does n accesses through the static descriptor (see
// tls_basic.c's tls_loop).
static __attribute__((noinline)) void loop_once(void) {
	di_counter++;
	__asm__ volatile("" ::: "memory");
}

int64_t tls_desc_ie_loop(int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		loop_once();
	}
	return di_counter;
}
