// abi_poison: plugin code that breaks every register convention the Go
// runtime relies on, then faults or spins until its deadline; and a reader
// of the control state the next call finds. loader/abi_contract_test.go
// checks that Go code after such a call is unaffected.
//
// Poisoned: rbx, rbp, r12-r15 (callee-saved in the SysV ABI; r14 is Go's g
// register and rbp its frame pointer), the x87 control word (single
// precision, round toward zero), MXCSR (round toward zero, flush to zero,
// denormals are zero) and the direction flag (set: string instructions
// run backwards).
//
// Build: cc -shared -fPIC -O2 -Wall -o abi_poison.so abi_poison.c

#include <stdint.h>

#define POISON                                                                 \
	"movabs $0x5151515151515151, %rbx\n"                                     \
	"movabs $0x5252525252525252, %rbp\n"                                     \
	"movabs $0x5353535353535353, %r12\n"                                     \
	"movabs $0x5454545454545454, %r13\n"                                     \
	"movabs $0x5555555555555555, %r14\n"                                     \
	"movabs $0x5656565656565656, %r15\n"                                     \
	"subq $8, %rsp\n"                                                        \
	"movw $0x0c7f, (%rsp)\n"                                                 \
	"fldcw (%rsp)\n"                                                         \
	"movl $0xffc0, (%rsp)\n"                                                 \
	"ldmxcsr (%rsp)\n"                                                       \
	"addq $8, %rsp\n"                                                        \
	"std\n"

// poison_fault poisons, then reads address 0: SIGSEGV.
// poison_spin poisons, then spins until its deadline interrupts it.
__asm__(".text\n"
        ".globl poison_fault\n"
        ".type poison_fault, @function\n"
        "poison_fault:\n" POISON "xorl %eax, %eax\n"
        "movq (%rax), %rax\n"
        "ret\n"
        ".size poison_fault, .-poison_fault\n"
        ".globl poison_spin\n"
        ".type poison_spin, @function\n"
        "poison_spin:\n" POISON "1: jmp 1b\n"
        ".size poison_spin, .-poison_spin\n");

// control_state returns the thread's x87 control word << 32 | MXCSR (its
// exception flags, bits 0-5, cleared) | the direction flag << 16.
uint64_t control_state(void) {
	uint16_t fcw;
	uint32_t mxcsr;
	uint64_t flags;
	__asm__ volatile("fnstcw %0" : "=m"(fcw));
	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("subq $128, %%rsp; pushfq; popq %0; addq $128, %%rsp" : "=r"(flags)); // past the red zone
	return (uint64_t)fcw << 32 | (mxcsr & ~0x3fu) | ((flags >> 10) & 1) << 16;
}
