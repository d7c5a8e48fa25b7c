//go:build linux && amd64 && cgo

// sandbox_amd64.c: reading and rewriting the interrupted register state in
// a signal handler's ucontext on linux/amd64.

#define _GNU_SOURCE
#include <ucontext.h>
#include "sandbox.h"

uint64_t rp_uc_pc(void *ucv) {
	ucontext_t *uc = ucv;
	return (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
}

uint64_t rp_uc_sp(void *ucv) {
	ucontext_t *uc = ucv;
	return (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
}

// rp_uc_redirect makes sigreturn resume at pc on stack sp, with the
// direction flag (DF) and alignment check (AC) flags clear as the ABI
// expects at a function boundary.
void rp_uc_redirect(void *ucv, uint64_t pc, uint64_t sp) {
	ucontext_t *uc = ucv;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
	uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
	uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)(0x400 | 0x40000);
}
