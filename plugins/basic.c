// basic: code, read-only data, initialised data, a large .bss, an exported
// global variable, a function-pointer table and calls between exported
// functions. The workhorse of the elfmap and loader tests.
//
// Build: cc -shared -fPIC -O2 -Wall -o basic.so basic.c

#include <stddef.h>
#include <stdint.h>

// Read-only data: a string and a table in .rodata.
const char basic_greeting[] = "hello from basic";
const uint32_t basic_squares[8] = {0, 1, 4, 9, 16, 25, 36, 49};

// Initialised data in .data.
int64_t basic_counter = 42;

// A large .bss: 1 MiB of zeroes that must be mapped, not read from the file.
uint8_t basic_zeroes[1 << 20];

int64_t add(int64_t a, int64_t b) { return a + b; }
int64_t sub(int64_t a, int64_t b) { return a - b; }
int64_t mul(int64_t a, int64_t b) { return a * b; }

// A function-pointer table: three R_X86_64_RELATIVE (or 64) relocations.
typedef int64_t (*binop)(int64_t, int64_t);
binop basic_ops[3] = {add, sub, mul};

// Calls between exported functions (through the PLT or direct, as the
// compiler chooses) and through the pointer table.
int64_t apply(int op, int64_t a, int64_t b) {
	if (op < 0 || op > 2)
		return -1;
	return basic_ops[op](a, b);
}

int64_t add3(int64_t a, int64_t b, int64_t c) { return add(add(a, b), c); }

// State kept per instance: each load gets its own counter.
int64_t bump(void) { return ++basic_counter; }

// Sums the .bss: 0 unless something wrote there.
uint64_t zero_sum(void) {
	uint64_t s = 0;
	for (size_t i = 0; i < sizeof basic_zeroes; i++)
		s += basic_zeroes[i];
	return s;
}

uint32_t square(uint32_t i) { return basic_squares[i & 7]; }

const char *greeting(void) { return basic_greeting; }

double scale(double x, double y) { return x * y; }
