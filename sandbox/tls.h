// tls.h: dynamic thread-local storage for the objects runplug loads (the
// general- and local-dynamic models), declared for tls.c and the cgo
// preamble of tls_cgo.go.

#ifndef RUNPLUG_TLS_H
#define RUNPLUG_TLS_H

#include <stdint.h>

// RP_TLS_MAX_MODULES is the number of live modules the table holds; ids are
// 1 to RP_TLS_MAX_MODULES (0 is never a module: a zeroed GOT pair is not a
// valid index).
#define RP_TLS_MAX_MODULES 4096

// Abort codes (rp_abort_current) of a __tls_get_addr call that cannot be
// served: an index naming no live module, or no memory for the block.
#define RP_TLS_ABORT_MODULE 0x544c5301
#define RP_TLS_ABORT_NOMEM 0x544c5302

// The argument of __tls_get_addr: the GOT pair that R_X86_64_DTPMOD64 and
// R_X86_64_DTPOFF64 fill.
typedef struct rp_tls_index {
	uint64_t module;
	uint64_t offset;
} rp_tls_index;

// rp_tls_get_addr is what plugins' __tls_get_addr imports bind to: the
// calling thread's block of module ti->module, plus ti->offset.
void *rp_tls_get_addr(rp_tls_index *ti);

// Entry points used from Go (tls_cgo.go).
int64_t rp_tls_register(uintptr_t image, uint64_t filesz, uint64_t memsz, uint64_t align);
void rp_tls_unregister(uint64_t id);
uint64_t rp_tls_generation(uint64_t id);
uint64_t rp_tls_get_addr_addr(void);
int64_t rp_tls_thread_blocks(void);
int64_t rp_tls_live_blocks(void);
uint64_t rp_tls_fixture_addr(void);

#endif // RUNPLUG_TLS_H
