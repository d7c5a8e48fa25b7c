// state_hostile: an isolated plugin that attacks its state file through
// the descriptor its child inherits (4, wire.StateFD): it rewrites the
// header records the host owns, or tries to truncate the file under the
// host's mapping. Layout 1 of state_counter, so that it shares the file.
//
// Build: cc -shared -fPIC -O2 -Wall -o state_hostile.so state_hostile.c

#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STATE_VERSION 1
struct counter {
	uint64_t calls;
	uint64_t ctor_runs;
};
#include "state_counter.h"

// Writes garbage over the header page (both records); returns what
// pwrite returned.
int64_t hostile_scribble_header(void) {
	char junk[4096];
	memset(junk, 0x5a, sizeof junk);
	return (int64_t)pwrite(4, junk, sizeof junk, 0);
}

// Truncates the file to nothing: the host's mapping of the state would
// then raise SIGBUS on its next read. The filter refuses ftruncate.
int64_t hostile_truncate(void) { return syscall(SYS_ftruncate, 4, 0); }
