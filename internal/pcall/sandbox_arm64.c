//go:build linux && arm64 && cgo

// sandbox_arm64.c: reading and rewriting the interrupted register state in
// a signal handler's ucontext on linux/arm64.

#define _GNU_SOURCE
#include <ucontext.h>
#include "sandbox.h"

uint64_t rp_uc_pc(void *ucv) {
	ucontext_t *uc = ucv;
	return (uint64_t)uc->uc_mcontext.pc;
}

uint64_t rp_uc_sp(void *ucv) {
	ucontext_t *uc = ucv;
	return (uint64_t)uc->uc_mcontext.sp;
}

// rp_uc_redirect makes sigreturn resume at pc on stack sp (rp_recover on
// rp_call's frame, which restores every callee-saved register itself).
void rp_uc_redirect(void *ucv, uint64_t pc, uint64_t sp) {
	ucontext_t *uc = ucv;
	uc->uc_mcontext.pc = pc;
	uc->uc_mcontext.sp = sp;
}
