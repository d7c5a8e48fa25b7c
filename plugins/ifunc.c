// ifunc: an exported STT_GNU_IFUNC function (its resolver runs when the
// loader binds it or Lookup returns it) and a static one, which the linker
// turns into an R_X86_64_IRELATIVE relocation. ifunc_resolver_calls counts
// resolver runs.
//
// Build: cc -shared -fPIC -O2 -Wall -o ifunc.so ifunc.c

#include <stdint.h>

int64_t ifunc_resolver_calls;

static int64_t impl_fast(int64_t x) { return x * 100; }
static int64_t impl_local(int64_t x) { return x + 7; }

static void *resolve_exported(void) {
	ifunc_resolver_calls++;
	return (void *)impl_fast;
}

static void *resolve_local(void) {
	ifunc_resolver_calls++;
	return (void *)impl_local;
}

// Exported IFUNC symbol.
int64_t ifunc_scaled(int64_t x) __attribute__((ifunc("resolve_exported")));

// Local IFUNC: taking its address gives an IRELATIVE relocation.
static int64_t ifunc_local(int64_t x) __attribute__((ifunc("resolve_local")));
int64_t (*ifunc_local_ptr)(int64_t) = ifunc_local;

int64_t ifunc_call_local(int64_t x) { return ifunc_local_ptr(x); }
int64_t ifunc_call_exported(int64_t x) { return ifunc_scaled(x); }
