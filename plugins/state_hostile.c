// state_hostile: an isolated plugin that attacks its state file, whose
// header records the host owns. The child closed the file's descriptor
// (4, wire.StateFD) before any plugin code ran and keeps only the slot's
// pages mapped: each function tries one way back to the file (the test
// is isolate TestIsolatedStateHostile). Layout 1 of state_counter, so
// that it shares the file.
//
// Build: cc -shared -fPIC -O2 -Wall -o state_hostile.so state_hostile.c

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STATE_VERSION 1
struct counter {
	uint64_t calls;
	uint64_t ctor_runs;
};
#include "state_counter.h"

// ret is a system call's result: -errno on failure.
static int64_t ret(long r) { return r < 0 ? -(int64_t)errno : (int64_t)r; }

// Writes garbage over the header page (both records) through descriptor
// 4: EBADF, it is closed.
int64_t hostile_scribble_header(void) {
	char junk[4096];
	memset(junk, 0x5a, sizeof junk);
	return ret(pwrite(4, junk, sizeof junk, 0));
}

// Copies descriptor 4 to another number first: EBADF.
int64_t hostile_dup_scribble(void) {
	long fd = syscall(SYS_dup3, 4, 100, 0);
	if (fd < 0)
		return ret(fd);
	char junk[64];
	memset(junk, 0x5a, sizeof junk);
	return ret(pwrite((int)fd, junk, sizeof junk, 0));
}

// Truncates the file to nothing: the host's view would raise SIGBUS. No
// descriptor, and the filter refuses ftruncate.
int64_t hostile_truncate(void) { return ret(syscall(SYS_ftruncate, 4, 0)); }

// Grows the hole over the header: no descriptor, fallocate refused.
int64_t hostile_fallocate(void) { return ret(syscall(SYS_fallocate, 4, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)); }

// Points the slot's mapping at file page 0, the header, and scribbles
// it: the filter refuses remap_file_pages.
int64_t hostile_remap_header(void) {
	long r = syscall(SYS_remap_file_pages, (long)&state, 4096, 0, 0, 0);
	if (r < 0)
		return ret(r);
	memset(&state, 0x5a, 128);
	return 0;
}

// Grows the slot's mapping past its end (mremap) and writes there: the
// file's later pages, never the header before the slot (a write past
// the file's end is a SIGBUS, a fault of this call).
int64_t hostile_mremap_grow(void) {
	size_t n = sizeof runplug_state;
	char *p = mremap((void *)runplug_state, n, n + 4096, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return ret(-1);
	p[n] = 0x5a;
	return (int64_t)(uintptr_t)p;
}

// Punches the slot's pages out of the file (MADV_REMOVE): its own state
// only.
int64_t hostile_punch_slot(void) { return ret(madvise((void *)runplug_state, sizeof runplug_state, MADV_REMOVE)); }

// Syncs the file: the filter refuses msync (the host's to do).
int64_t hostile_msync(void) { return ret(msync((void *)runplug_state, sizeof runplug_state, MS_SYNC)); }

// Opens the file again through /proc for writing: the filter refuses an
// open after the load (and one for writing at any time).
int64_t hostile_reopen(void) { return ret(open("/proc/self/fd/4", O_RDWR)); }

// Opens the slot's mapping's file through /proc/self/map_files: the
// filter refuses the open.
int64_t hostile_map_files(void) {
	char path[96];
	snprintf(path, sizeof path, "/proc/self/map_files/%lx-%lx", (unsigned long)runplug_state,
		 (unsigned long)runplug_state + sizeof runplug_state);
	return ret(open(path, O_RDWR));
}
