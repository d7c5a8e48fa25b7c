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

// rp_uc_recover makes sigreturn resume at rp_recover on rp_call's frame,
// which restores every callee-saved register itself.
void rp_uc_recover(void *ucv, struct rp_frame *fr) {
	ucontext_t *uc = ucv;
	uc->uc_mcontext.pc = (uint64_t)&rp_recover;
	uc->uc_mcontext.sp = (uint64_t)fr;
}
