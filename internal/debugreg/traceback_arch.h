// traceback_arch.h: what the profiler's traceback (traceback.c) reads of
// an interrupted context, per architecture (traceback_amd64.c,
// traceback_arm64.c).

#ifndef RUNPLUG_TRACEBACK_ARCH_H
#define RUNPLUG_TRACEBACK_ARCH_H

#include <stdint.h>
#include <ucontext.h>

// rp_tb_regs reads the PC, stack pointer and frame pointer (rbp, x29) of
// an interrupted context.
void rp_tb_regs(const ucontext_t *uc, uint64_t *pc, uint64_t *sp, uint64_t *fp) __attribute__((visibility("hidden")));

// rp_tb_leaf_ret gives the return address of a function interrupted
// before it made a frame (a leaf: gcc omits the frame there even with
// -fno-omit-frame-pointer): the word at sp on x86-64, read only inside
// [sp, top) with rp_tb_peek; the link register x30 on AArch64. 0 when
// there is one.
int rp_tb_leaf_ret(const ucontext_t *uc, uint64_t sp, uint64_t top, uint64_t *ret) __attribute__((visibility("hidden")));

// rp_tb_set_regs makes a context for the tests: pc, sp, the frame
// pointer and the leaf's return address (the link register on AArch64;
// on x86-64 it is read from memory at sp, and lr is ignored).
void rp_tb_set_regs(ucontext_t *uc, uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr) __attribute__((visibility("hidden")));

// rp_tb_peek reads n bytes at addr without faulting (traceback.c).
int rp_tb_peek(uint64_t addr, void *dst, size_t n) __attribute__((visibility("hidden")));

#endif // RUNPLUG_TRACEBACK_ARCH_H
