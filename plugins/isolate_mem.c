// isolate_mem: pointers a plugin hands its host, which the host reads
// and writes with Plugin.ReadMemory, WriteMemory and ReadString wherever
// the plugin runs (in process, or isolated: then they point into its
// child process): data of its own, a callback given a C string and an
// out-buffer, and a qsort comparator.
//
// Build: cc -shared -fPIC -O2 -Wall -o isolate_mem.so isolate_mem.c

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char greeting[] = "hello from the plugin";
static int64_t table[5] = {40, 10, 50, 30, 20};

uintptr_t greeting_addr(void) { return (uintptr_t)greeting; }
uintptr_t table_addr(void) { return (uintptr_t)table; }
int64_t table_at(int64_t i) { return table[i]; }

// with_buffer calls fn(greeting, out, sizeof out): fn writes a
// NUL-terminated string into out and returns its length. The result is
// that length when out holds the greeting in capitals, else -1.
int64_t with_buffer(int64_t (*fn)(const char *, char *, int64_t)) {
	char out[64];
	memset(out, 'x', sizeof out);
	int64_t n = fn(greeting, out, sizeof out);
	return strcmp(out, "HELLO FROM THE PLUGIN") == 0 && n == (int64_t)strlen(out) ? n : -1;
}

// sort_table sorts table with cmp and returns its elements as decimal
// digits pairs, first to last (10, 20, 30, 40, 50 -> 1020304050).
int64_t sort_table(int (*cmp)(const void *, const void *)) {
	qsort(table, 5, sizeof table[0], cmp);
	int64_t r = 0;
	for (int i = 0; i < 5; i++) {
		r = r * 100 + table[i];
	}
	return r;
}
