// state_hostile_ctor: an isolated plugin whose constructor attacks its
// state file before any call: it writes over the header records through
// descriptor 4 (wire.StateFD), and through copies of it made with dup3
// and fcntl(F_DUPFD). The child closed the descriptor before the first
// plugin code, so each gets EBADF, which the constructor records in the
// state for the host to read (isolate TestIsolatedStateHostile,
// "constructor"). An open of /proc/self/fd/4 or map_files would stop
// the child: the filter allows no open once plugin code runs.
//
// Build: cc -shared -fPIC -O2 -Wall -o state_hostile_ctor.so state_hostile_ctor.c

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STATE_VERSION 1
struct counter {
	uint64_t calls;
	uint64_t ctor_runs;
	int64_t pwrite4; // pwrite(4, header): -errno, or bytes written
	int64_t dup3;    // dup3(4, 100), then pwrite: the same
	int64_t dupfd;   // fcntl(4, F_DUPFD), then pwrite
};
#include "state_counter.h"

// scribble writes 64 bytes of garbage at offset 0 of fd (-errno when fd
// is one).
static int64_t scribble(long fd) {
	if (fd < 0)
		return fd;
	char junk[64];
	memset(junk, 0x5a, sizeof junk);
	ssize_t n = pwrite((int)fd, junk, sizeof junk, 0);
	return n < 0 ? -(int64_t)errno : (int64_t)n;
}

// err is a system call's result, -errno on failure.
static long err(long r) { return r < 0 ? -errno : r; }

__attribute__((constructor)) static void attack(void) {
	state.pwrite4 = scribble(4);
	state.dup3 = scribble(err(syscall(SYS_dup3, 4, 100, 0)));
	state.dupfd = scribble(err(fcntl(4, F_DUPFD, 100)));
}
