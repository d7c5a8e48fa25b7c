// tls.h: dynamic thread-local storage for the objects runplug loads (the
// general- and local-dynamic models), declared for tls.c and the cgo
// preamble of tls_cgo.go.

#ifndef RUNPLUG_TLS_H
#define RUNPLUG_TLS_H

// RP_TLS_MAX_MODULES is the number of live modules the table holds; ids are
// 1 to RP_TLS_MAX_MODULES (0 is never a module: a zeroed GOT pair is not a
// valid index).
#define RP_TLS_MAX_MODULES 4096

// Abort codes (rp_abort_current) of a __tls_get_addr call that cannot be
// served: an index naming no live module, or no memory for the block.
#define RP_TLS_ABORT_MODULE 0x544c5301
#define RP_TLS_ABORT_NOMEM 0x544c5302

// Layouts the TLSDESC resolvers (tlsdesc_amd64.S, tlsdesc_arm64.S) read, checked by
// _Static_assert in tls.c: struct rp_tls_mod (size, offset of gen) and
// struct rp_tls_thread (offsets of slots and n), struct rp_tls_slot
// (size, offsets of block and gen).
#define RP_TLS_MOD_SIZE 56
#define RP_TLS_MOD_GEN 32
#define RP_TLS_THREAD_SLOTS 0
#define RP_TLS_THREAD_N 8
#define RP_TLS_SLOT_SHIFT 4 // a slot is 1 << 4 bytes
#define RP_TLS_SLOT_BLOCK 0
#define RP_TLS_SLOT_GEN 8

// A dynamic TLS descriptor's argument: the module id in the low
// RP_TLSDESC_MOD_BITS bits, the offset in the block above them.
#define RP_TLSDESC_MOD_BITS 16

#ifndef __ASSEMBLER__

#include <stdint.h>

// The argument of __tls_get_addr: the GOT pair that R_X86_64_DTPMOD64 and
// R_X86_64_DTPOFF64 (R_AARCH64_TLS_DTPMOD64 and TLS_DTPREL64) fill.
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
int rp_tls_set_static(uint64_t id, int64_t tpoff);
int rp_tls_static_offset(uint64_t id, int64_t *tpoff);
uint64_t rp_tls_thread_pointer(void);
void rp_tls_notify_exit(int fd);

// Per architecture (tls_amd64.c, tls_arm64.c): the thread pointer (the
// TCB on AArch64, TLS variant I; the TCB's own address at %fs:0 on
// x86-64, variant II), and the test hook that overwrites every
// call-clobbered register (rp_tls_clobber_test).
char *rp_tls_tp(void) __attribute__((visibility("hidden")));
void rp_tls_clobber(void) __attribute__((visibility("hidden")));

// RP_TLS_REALIGN realigns the stack on entry where a caller may have left
// it misaligned: x86-64 code built by old compilers calls __tls_get_addr
// so. AArch64's stack pointer is always 16-byte aligned.
#if defined(__x86_64__)
#define RP_TLS_REALIGN __attribute__((force_align_arg_pointer))
#else
#define RP_TLS_REALIGN
#endif

// Static TLS from glibc (statictls.c).
struct rp_static_tls {
	void *handle;  // dlopen's handle, NULL on failure
	int64_t tpoff; // the block's offset from the thread pointer
	char err[256]; // dlerror's text on failure
};
void rp_static_tls_open(const char *path, const char *block_sym, const char *slot_sym, struct rp_static_tls *r);
int rp_static_tls_close(void *handle);
int64_t rp_static_tls_offset_here(void *handle, const char *block_sym);

// TLS descriptor resolvers (tlsdesc_amd64.S, tlsdesc_arm64.S): the entry
// of a descriptor {entry, arg}, called with the descriptor's address in
// %rax (x0 on AArch64), returning there the variable's offset from the
// thread pointer, every other register preserved (but the flags, and x30,
// the return address, on AArch64).
void rp_tlsdesc_static(void);
void rp_tlsdesc_dynamic(void);
uint64_t rp_tlsdesc_static_addr(void);
uint64_t rp_tlsdesc_dynamic_addr(void);
uint64_t rp_tlsdesc_fixture_addr(void);
uint64_t rp_tlsdesc_fixture_regs_addr(void);

#endif // __ASSEMBLER__

#endif // RUNPLUG_TLS_H
