//go:build linux && cgo

// traceback_amd64.c: the x86-64 registers of the profiler's traceback
// (traceback_arch.h).

#define _GNU_SOURCE
#include "traceback_arch.h"

void rp_tb_regs(const ucontext_t *uc, uint64_t *pc, uint64_t *sp, uint64_t *fp) {
	*pc = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	*sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
	*fp = (uint64_t)uc->uc_mcontext.gregs[REG_RBP];
}

// A call pushed the return address: a frameless leaf's is at sp.
int rp_tb_leaf_ret(const ucontext_t *uc, uint64_t sp, uint64_t top, uint64_t *ret) {
	(void)uc;
	if (sp >= top || top - sp < 8 || (sp & 7) != 0) {
		return -1;
	}
	return rp_tb_peek(sp, ret, sizeof *ret);
}

void rp_tb_set_regs(ucontext_t *uc, uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr) {
	(void)lr;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
	uc->uc_mcontext.gregs[REG_RBP] = (greg_t)fp;
}
