// faults: one exported function per kind of fault the sandbox must trap,
// plus a healthy one. Loader and CLI tests call them and check the
// sandbox's report (signal, address, what the address is, symbol+offset).
// Every faulting access goes through a volatile object so that the compiler
// emits the real instruction instead of folding undefined behaviour into
// something else.
//
// Build: cc -shared -fPIC -O2 -Wall -o faults.so faults.c

#include <stdint.h>
#include <stdlib.h>

// The image's end, as the static linker defines it (hidden: our own, not
// an interposed one).
extern char _end[] __attribute__((visibility("hidden")));

int64_t faults_ok(int64_t a, int64_t b) { return a + b; }

// NULL read: SIGSEGV (SEGV_MAPERR) at 0x0, "not mapped".
static int64_t *volatile faults_null;
int64_t fault_null_read(void) { return *faults_null; }

// Write to its own text: SIGSEGV (SEGV_ACCERR) in the R-X segment.
int64_t fault_write_text(void);
static void *volatile faults_text = (void *)fault_write_text;
int64_t fault_write_text(void) {
	*(volatile uint8_t *)faults_text = 0xcc;
	return 0;
}

// Write to read-only data: SIGSEGV (SEGV_ACCERR) in the R segment (or the
// RELRO part of the RW segment, depending on the link).
const int64_t faults_rodata[4] = {1, 2, 3, 4};
static const int64_t *volatile faults_rodata_ptr = faults_rodata;
int64_t fault_write_rodata(void) {
	*(volatile int64_t *)(uintptr_t)faults_rodata_ptr = 5;
	return 0;
}

// Integer divide by zero: SIGFPE (FPE_INTDIV).
static volatile int64_t faults_zero;
int64_t fault_div_zero(int64_t a) { return a / faults_zero; }

// __builtin_trap (ud2): SIGILL (ILL_ILLOPN).
int64_t fault_trap(void) { __builtin_trap(); }

// Unbounded recursion: SIGSEGV in the thread's stack guard, "stack overflow"
// (call it with n >= 0; the test on n only keeps the compiler from seeing
// that it never ends).
int64_t fault_recurse(int64_t n) {
	volatile char frame[256];
	if (n < 0) {
		return n;
	}
	frame[0] = (char)n;
	return fault_recurse(n + 1) + frame[0];
}

// A jump into data: SIGSEGV (SEGV_ACCERR) at the data address, NX.
uint8_t faults_data_code[16] = {0xc3}; // "ret", but in a non-executable segment
int64_t fault_jump_data(void) {
	void (*volatile f)(void) = (void (*)(void))(uintptr_t)faults_data_code;
	f();
	return 0;
}

// A read just past the image end: bytes from _end upward until the first
// unmapped byte, which under runplug is the first byte of the guard page
// after the image: SIGSEGV (SEGV_ACCERR), "guard page after faults.so".
// (Under dlopen there is no guard: it runs into whatever follows.)
int64_t fault_read_past_end(void) {
	volatile char *p = _end;
	int64_t sum = 0;
	for (;;) {
		sum += *p++;
	}
	return sum;
}

// abort(): SIGABRT (SI_TKILL), raised by libc on the calling thread.
int64_t fault_abort(void) { abort(); }
