//go:build linux && amd64 && cgo

// sandbox_amd64.c: reading the interrupted register state in a signal
// handler's ucontext on linux/amd64, and leaving the handler for rp_recover.

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>
#include "sandbox.h"

void rp_jump_recover(struct rp_frame *fr) __attribute__((noreturn));

uint64_t rp_uc_pc(void *ucv) {
	ucontext_t *uc = ucv;
	return (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
}

uint64_t rp_uc_sp(void *ucv) {
	ucontext_t *uc = ucv;
	return (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
}

// rp_uc_recover leaves the handler the way siglongjmp does, not through
// sigreturn: it puts back the interrupted thread's signal mask
// (rt_sigprocmask, the kernel's 8-byte set at the start of uc_sigmask)
// and jumps to rp_recover on fr (rp_jump_recover, which also clears DF
// and AC as the ABI expects at a function boundary). rt_sigreturn would
// restore the plugin's registers and FPU state only for rp_recover to
// drop them, and it returns to user mode by the kernel's slow path (iret),
// which a virtual machine makes expensive: this is one system call that
// returns by sysret (docs/FIRSTLOAD.md, the contained fault). The kernel
// keeps no other per-handler state: it tells that a thread is on its
// alternate signal stack from the stack pointer, which now points to the
// frame, and the handler ran with the FPU in its initial state, which is
// what rp_recover sets anyway (docs/ASSUMPTIONS.md).
void rp_uc_recover(void *ucv, struct rp_frame *fr) {
	ucontext_t *uc = ucv;
	int saved_errno = errno;
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &uc->uc_sigmask, NULL, 8);
	errno = saved_errno;
	rp_jump_recover(fr);
}
