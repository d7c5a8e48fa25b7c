// demo: the example plugin that `runplug` (no arguments) loads from inside
// its own binary. A constructor, per-instance state, integer, double and
// string arguments, a call into the host's libc, and a function that
// crashes on purpose so the demo can show the fault being contained.
//
// The copy embedded in the binary, cmd/runplug/demo/demo.so, is built by
// `go generate ./cmd/runplug` with the command below plus
// -DDEMO_SOURCE_SHA256="\"<sha256 of this file>\"", so the object carries
// the hash of the source it came from; a test checks that they agree.
//
// Build: cc -shared -fPIC -O2 -Wall -o demo.so demo.c

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef DEMO_SOURCE_SHA256
#define DEMO_SOURCE_SHA256 "unknown"
#endif

// The sha256 of demo.c this object was built from ("unknown" when built
// without the definition, as the tests' fresh copy is).
const char demo_source_sha256[] = DEMO_SOURCE_SHA256;

static const char greeting[] = "hello from a plugin loaded without dlopen";

// Set by the constructor: proves that DT_INIT_ARRAY ran before any call.
static int64_t counter;

__attribute__((constructor)) static void demo_init(void) { counter = 100; }

const char *demo_greeting(void) { return greeting; }

// next returns 101, 102, ... : each loaded instance counts on its own.
int64_t next(void) { return ++counter; }

// fib returns the n-th Fibonacci number (wrapping modulo 2^64).
uint64_t fib(uint32_t n) {
	uint64_t a = 0, b = 1;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t = a + b;
		a = b;
		b = t;
	}
	return a;
}

// norm2 takes and returns doubles: x*x + y*y.
double norm2(double x, double y) { return x * x + y * y; }

// vowels counts the vowels of a C string; strlen comes from the host's libc.
int64_t vowels(const char *s) {
	int64_t n = 0;
	size_t len = strlen(s);
	for (size_t i = 0; i < len; i++)
		if (strchr("aeiouAEIOU", s[i]) != NULL)
			n++;
	return n;
}

// crash writes through a NULL pointer: a SIGSEGV the sandbox turns into an
// error instead of letting it kill the host.
int64_t crash(void) {
	int64_t *volatile p = NULL;
	*p = 42;
	return *p;
}
