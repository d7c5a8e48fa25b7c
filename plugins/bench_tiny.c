// bench_tiny: the smallest useful plugin, for load/unload benchmarks: one
// function, one initialised variable, no imports beyond what the compiler
// adds.
//
// Build: cc -shared -fPIC -O2 -Wall -o bench_tiny.so bench_tiny.c

#include <stdint.h>

int64_t tiny_counter = 1;

int64_t tiny_add(int64_t a, int64_t b) { return a + b + tiny_counter; }
