// Build: cc -shared -fPIC -O2 -g -Wall -o call_dwarf.so call_dwarf.c
// call_dwarf: functions whose declarations `runplug call` reads from DWARF
// (built with -g) when no --sig is given: a double parameter given as the
// integer 2 must arrive as 2.0, a missing argument must be refused, a
// narrow result must be read at its width, a string parameter takes text.
// Used by cmd/runplug/dwarfsig_test.go.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef double real;

real half(real x) { return x / 2; }

float scalef(float x, int n) { return x * (float)n; }

unsigned long count_char(const char *s, char c) {
	unsigned long n = 0;
	for (; *s; s++)
		n += *s == c;
	return n;
}

int8_t wrap8(int64_t v) { return (int8_t)v; }

int sum_ints(int n, ...) {
	va_list ap;
	va_start(ap, n);
	int s = 0;
	for (int i = 0; i < n; i++)
		s += va_arg(ap, int);
	va_end(ap);
	return s;
}

const char *name_of(int i) { return i == 0 ? "zero" : "other"; }

struct pair {
	double a, b;
};

double pair_sum(struct pair p) { return p.a + p.b; }
