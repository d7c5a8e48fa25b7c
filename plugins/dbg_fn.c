// dbg_fn: a plugin for the debugger and profiler tests (loader/debug_gdb_test.go,
// loader/debug_prof_test.go), built with DWARF and frame pointers: gdb must
// list it, set a breakpoint on dbg_leaf by name before the load, and show
// dbg_leaf and dbg_entry at their lines; a CPU profile must name the static
// dbg_spin_inner (from .symtab) under dbg_spin.
//
// Build: cc -shared -fPIC -g -O1 -fno-omit-frame-pointer -fno-inline -Wall -o dbg_fn.so dbg_fn.c

#include <stdint.h>
#include <string.h>

volatile int64_t dbg_sink;

// dbg_init runs at load, as a constructor: a breakpoint on it is hit, since
// runplug shows the object to debuggers before its constructors run.
__attribute__((constructor)) void dbg_init(void) {
	dbg_sink = 1; // LINE:init
}

__attribute__((noinline)) int64_t dbg_leaf(int64_t x) {
	dbg_sink = x; // LINE:leaf
	return x * 2 + 1;
}

__attribute__((noinline)) int64_t dbg_entry(int64_t x) {
	int64_t r = dbg_leaf(x + 1); // LINE:entry
	return r + dbg_sink;
}

// dbg_spin_inner burns n iterations of arithmetic, for profiles: the host
// loops over dbg_spin, and the samples land here, under dbg_spin (reached
// through the frame pointer). It is static: only .symtab names it.
__attribute__((noinline)) static int64_t dbg_spin_inner(int64_t n) {
	int64_t acc = 0;
	for (int64_t i = 0; i < n; i++) {
		acc = acc * 6364136223846793005 + 1442695040888963407 + i;
		dbg_sink = acc;
	}
	return acc;
}

__attribute__((noinline)) int64_t dbg_spin(int64_t n) {
	return dbg_spin_inner(n) + 1;
}

// dbg_fill clears a buffer n times with libc's memset: profiles must show
// dbg_fill as the caller of the libc code the samples land in.
static char dbg_buf[1 << 16];

__attribute__((noinline)) int64_t dbg_fill(int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		memset(dbg_buf, (int)i, sizeof dbg_buf);
		__asm__ volatile("" ::: "memory");
	}
	return dbg_buf[1];
}
