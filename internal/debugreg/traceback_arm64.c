//go:build linux && cgo

// traceback_arm64.c: the AArch64 registers of the profiler's traceback
// (traceback_arch.h). A frame record is {x29, x30} at the address in x29,
// the same shape as x86-64's {rbp, return address}, so the walk is
// shared; a leaf that made no frame still has its return address in x30.

#define _GNU_SOURCE
#include "traceback_arch.h"

void rp_tb_regs(const ucontext_t *uc, uint64_t *pc, uint64_t *sp, uint64_t *fp) {
	*pc = (uint64_t)uc->uc_mcontext.pc;
	*sp = (uint64_t)uc->uc_mcontext.sp;
	*fp = (uint64_t)uc->uc_mcontext.regs[29];
}

int rp_tb_leaf_ret(const ucontext_t *uc, uint64_t sp, uint64_t top, uint64_t *ret) {
	(void)sp;
	(void)top;
	*ret = (uint64_t)uc->uc_mcontext.regs[30];
	return 0;
}

void rp_tb_set_regs(ucontext_t *uc, uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr) {
	uc->uc_mcontext.pc = pc;
	uc->uc_mcontext.sp = sp;
	uc->uc_mcontext.regs[29] = fp;
	uc->uc_mcontext.regs[30] = lr;
}
