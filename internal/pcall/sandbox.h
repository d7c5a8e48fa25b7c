// sandbox.h: the C side of package sandbox, shared by sandbox.c (signal
// handlers, host libraries, process arguments), sandbox_amd64.c (ucontext
// access) and sandbox_amd64.S (the call trampoline and recovery stub).
//
// Layout constants are #defines so that the assembly file can use them; the
// C structs below are checked against them with _Static_assert.

#ifndef RUNPLUG_SANDBOX_H
#define RUNPLUG_SANDBOX_H

// Offsets into struct rp_frame, struct rp_thread, struct rp_args and
// struct rp_callrec used by sandbox_amd64.S (checked in sandbox.c).
#define RP_FR_GOTOP 0
#define RP_FR_SEQ 8
#define RP_FR_ACTIVE 16
#define RP_FR_STATUS 24
#define RP_FR_PC 48
#define RP_FR_RESULT 72
#define RP_FR_SLOT 80
#define RP_FR_GATE 96
#define RP_FR_GSLOT 104
#define RP_FR_SIZE 112
#define RP_T_CUR 0
#define RP_T_DEPTH 24
#define RP_T_GATES 32
#define RP_T_REGISTERED 128
#define RP_GATE_SLOTS 12 // gates a thread can be inside at once without the overflow counter
#define RP_GATE_CLOSING 0
#define RP_GATE_OVERFLOW 8
#define RP_SLOT_CANCEL 8
#define RP_A_INT 0
#define RP_A_FLOAT 48
#define RP_C_FN 0
#define RP_C_ARGS 8
#define RP_C_NINTS 16
#define RP_C_SLOT 24
#define RP_C_GATE 32
#define RP_C_A 40
#define RP_C_B 48
#define RP_C_INFO 56
#define RP_C_SIZE 64
#define RP_GSLOT_OVERFLOW -1 // struct rp_frame.gslot of a call counted in its gate's overflow
#define RP_GSLOT_NONE -2     // struct rp_frame.gslot of an ungated call

// Status of a protected call (struct rp_frame.status, struct rp_callrec.info).
#define RP_OK 0          // fn returned normally
#define RP_FAULT 1       // a synchronous signal raised by fn was trapped
#define RP_INTERRUPTED 2 // the deadline signal interrupted fn
#define RP_ABORTED 3     // a C-side dispatcher aborted the call (rp_abort_current)
#define RP_CLOSED 4      // the call's gate was closed: fn was not called
#define RP_NEAR_SP 0x10000 // struct rp_callrec.info flag, see there

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>
#include <signal.h>

// One protected call in progress. It lives in the stack frame of rp_call
// (so nested calls through callbacks into Go each have their own) and is
// the thread's struct rp_thread.cur while plugin code runs. Its address is
// also the recovery stack pointer: rp_recover runs with rsp = the frame,
// whose fields say what happened.
struct rp_frame {
	uint64_t gotop;        // the goroutine's stack top when its current callback
	                       // into Go began (rp_callback_enter), see result
	uint64_t seq;          // process-wide sequence number of a CallContext call
	                       // (deadline signals name it); set only when slot is
	volatile int32_t active;  // 1 while plugin code runs (0 during callbacks into Go)
	volatile int32_t pending; // a deadline passed while in a callback into Go
	volatile int32_t status;  // RP_FAULT, RP_INTERRUPTED or RP_ABORTED (set before recovery)
	volatile int32_t signo;   // trapped signal
	volatile int32_t code;    // its si_code
	int32_t pad0;
	volatile uint64_t addr;   // si_addr
	volatile uint64_t pc;     // RIP when the signal arrived
	volatile uint64_t fsp;    // RSP when the signal arrived
	volatile int64_t abort_code; // rp_abort_current's argument
	uint64_t result;       // the call's struct rp_callrec, on the calling goroutine's
	                       // stack: rp_callback_leave moves it when the stack moved
	uint64_t slot;         // struct rp_slot of a CallContext, or 0
	struct rp_frame *outer_next; // next frame on the thread's outer chain (rp_callback_enter)
	uint64_t gate;         // struct rp_gate of the call; set only when gslot is
	                       // RP_GSLOT_OVERFLOW (otherwise gates[gslot] holds it)
	int64_t gslot;         // the thread's gates[] index it holds, RP_GSLOT_OVERFLOW
	                       // (counted in the gate's overflow) or RP_GSLOT_NONE (ungated)
};

// The argument registers, laid out like the Go type Args.
struct rp_args {
	uint64_t i[6]; // rdi, rsi, rdx, rcx, r8, r9
	double f[8];   // xmm0-xmm7
};

// Per-thread state, in initial-exec TLS: reading it is one %fs-relative
// access, safe in a signal handler and without a function call.
struct rp_thread {
	struct rp_frame *cur;   // innermost protected call on this thread, or NULL
	int32_t tid;            // cached gettid(), 0 until a deadline call needs it
	int32_t pad;
	struct rp_frame *outer; // frames whose plugin code is in a callback into Go
	                        // (most recent first, linked by prev), or NULL
	// Gated calls (struct rp_gate): the gates of the calls in progress on
	// this thread are gates[0, depth), innermost last; written only by the
	// thread itself with plain stores, read by rp_gate_busy on other threads
	// (see sandbox.c "Gates").
	volatile int64_t depth;
	volatile uint64_t gates[RP_GATE_SLOTS];
	int32_t registered; // the thread is on the registry (rp_gate_register)
	int32_t pad1;
	struct rp_thread *reg_next, *reg_prev; // registry links, under its mutex
	int64_t locks;          // runplug C locks the thread holds (locks.h)
	// Deadline signals that could not be queued (RLIMIT_SIGPENDING, see
	// rp_interrupt) come from the thread's own POSIX timer, whose signal
	// the kernel allocated when the timer was made: the interrupter
	// stores the sequence number of the call in kick_seq, then arms it.
	volatile uint64_t kick_seq;
	void *timer;            // timer_t, valid when has_timer
	int32_t has_timer;      // 1 made, -1 could not be made
	// deferred: a deadline signal found a lock held (locks.h): the
	// interrupt waits for the last unlock (rp_locks_released).
	volatile int32_t deferred;
};

// A call gate: the Go type sandbox.Gate, same layout (Go memory that C
// uses only during the calls that keep it alive, see gate.go).
struct rp_gate {
	volatile int32_t closing;  // set once by rp_gate_close_begin
	int32_t pad;
	volatile int64_t overflow; // calls through the gate not in a thread's gates[] (lock-prefixed)
};

// One protected call, the only argument of rp_call: the Go type callRecord
// (same layout), a local variable of the calling goroutine. fn, args,
// nints, slot and gate go in; a, b, info and code come out. args is a
// struct rp_args when nints is -1, or else an array of nints (0 to 6)
// integer arguments, the others being left alone (read only before fn is
// called); slot is a struct rp_slot for CallContext or 0, gate a struct
// rp_gate or 0. info and code are 0 (RP_OK) when rp_call begins: every
// record is a fresh Go value, run once, so a normal return leaves them
// as they are (one store fewer on every call). After a normal return a =
// rax and b = the bits of xmm0; otherwise info says what happened and a,
// b carry the evidence:
//
//	info & 0xff        status (RP_OK, RP_FAULT, RP_INTERRUPTED, RP_ABORTED, RP_CLOSED)
//	info >> 8 & 0xff   signal number (RP_FAULT)
//	info & RP_NEAR_SP  the faulting address is within 64 KiB below the
//	                   faulting stack pointer (or the page above it)
//	a                  si_addr (RP_FAULT) or the abort code (RP_ABORTED)
//	b                  the PC where the call stopped
//	code               si_code (RP_FAULT)
struct rp_callrec {
	uint64_t fn;
	uint64_t args;
	int64_t nints;
	uint64_t slot;
	uint64_t gate;
	uint64_t a;
	uint64_t b;
	int32_t info;
	int32_t code;
};

// The deadline slot of one CallContext: malloc'd, written by the calling
// thread, read by the goroutine that interrupts it.
struct rp_slot {
	int32_t tid;     // thread running the call (valid once state is RUNNING)
	int32_t state;   // 0 not started, 1 running, 2 done
	int32_t cancel;  // set by rp_interrupt
	int32_t pad;
	uint64_t seq;    // sequence number of the call
	struct rp_thread *thr; // the thread's state (valid once state is RUNNING)
};

// rp_call (sandbox_amd64.S) is the protected call. Go runs it with
// runtime.cgocall, as cgo's own wrappers are run (see callRecord.run in
// sandbox_cgo.go), on the thread's system stack: it makes the struct
// rp_frame on its own stack the thread's cur, calls c->fn with the
// argument registers of c->args and writes what happened to c.
//
// c is on the calling goroutine's stack, which a callback into Go may grow
// and so move: rp_call reads its inputs before fn is called, and writes
// the result through the frame's record pointer, which rp_callback_leave
// keeps current (the same delta arithmetic as cgo's wrappers, with
// _cgo_topofstack).
//
// A gated call records c->gate in the thread's gates[] (or counts it in the
// gate's overflow) before it looks at gate->closing, and removes it on
// every way out; when the gate is closing it ends with RP_CLOSED without
// calling fn.
void rp_call(struct rp_callrec *c);
// Recovery stub: the signal handler points RIP here and RSP at the frame.
void rp_recover(void);
// Unwinds to the recovery point of frame fr; does not return.
void rp_resume(struct rp_frame *fr) __attribute__((noreturn));
// Slow-path helpers rp_call calls (sandbox.c).
uint64_t rp_slot_begin(struct rp_slot *slot);
void rp_slot_end(struct rp_slot *slot);
void rp_fill_result(struct rp_callrec *c, const struct rp_frame *fr);
void rp_gate_register(void);
extern int32_t rp_gate_fallback;

// Gates (sandbox.c).
int rp_gate_close_begin(uintptr_t g);
int rp_gate_busy(uintptr_t g);
int rp_gate_held_here(uintptr_t g);
int rp_gate_membarrier_ok(void);
int rp_gate_membarrier_at_ctor(void);
void rp_gate_set_fallback(int on);

// ucontext access (sandbox_amd64.c).
uint64_t rp_uc_pc(void *uc);
uint64_t rp_uc_sp(void *uc);
// rp_uc_recover ends a signal handler that claimed fr: the call resumes
// at rp_recover on fr with the interrupted thread's signal mask. On amd64
// it jumps there and does not return; elsewhere it rewrites the context
// for sigreturn and returns.
void rp_uc_recover(void *uc, struct rp_frame *fr);

// Entry points used from Go (sandbox.c).
int rp_install(int intr_signo);
uintptr_t rp_slot_new(void);
void rp_slot_free(uintptr_t slot);
#define RP_INTR_SENT 0  // rp_interrupt: the deadline signal was queued (or not needed)
#define RP_INTR_TIMER 1 // it could not be queued; the thread's timer sent it
int rp_interrupt(uintptr_t slot);
int rp_slot_running(uintptr_t slot);
uint64_t rp_locks_held_at_recovery(void);
void rp_locks_released(void);

// Callbacks into Go (issue 6). A C-side dispatcher that plugin code calls
// and that calls into Go must bracket the Go call:
//
//	int32_t saved = rp_callback_enter();   // faults in Go now reach the Go runtime
//	... call the Go function ...
//	rp_callback_leave(saved);               // may not return, see below
//	if (go_function_failed) rp_abort_current(code); // ends the outer call with RP_ABORTED
//
// rp_callback_leave does not return when a deadline passed during the
// callback: it unwinds the protected call as an interrupt would have.
// saved is opaque: rp_callback_enter pushes the current frame (if any) on
// the thread's outer chain and rp_callback_leave pops it and makes it
// current again, so a protected call made by the Go callback nests.
int32_t rp_callback_enter(void);
void rp_callback_leave(int32_t saved);
int32_t rp_outer_pending(void);
void rp_abort_current(int64_t code) __attribute__((noreturn));

// Host symbols for fault descriptions (sandbox.c).
struct rp_sym {
	const char *sname; // nearest dynamic symbol at or below pc, or NULL
	uint64_t saddr;    // its address
	const char *fname; // path of the object containing pc
	int ok;            // dladdr found an object
};
struct rp_sym rp_dladdr(uint64_t pc);

// Test fixtures (sandbox.c): only the package's tests use them.
uint64_t rp_fixture_add_addr(void);
int64_t rp_fixture_call2(uint64_t fn, int64_t a, int64_t b);
uint64_t rp_fixture_abort_call_addr(void);
uint64_t rp_fixture_callback_state_addr(void);
void rp_fixture_leave_hook_arm(int step);
uint64_t rp_fixture_callback_then_spin_addr(void);
void rp_fixture_spin_stop(void);
uint64_t rp_fixture_fault_holding_addr(void);
void rp_fixture_unhold(void);
uint64_t rp_fixture_lock_spin_addr(void);
int rp_fixture_lock_free(void);

#endif // __ASSEMBLER__

// The general call (callframe_amd64.S or callframe_arm64.S, callframe_cgo.go): rp_call runs
// rp_frame_thunk as its fn with a struct rp_framerec, whose first member is
// the struct rp_callrec rp_call reads and whose c.args is a struct
// rp_frameargs (the Go type Frame), which begins with the struct rp_args
// rp_call loads the registers from. The thunk puts the stack arguments and
// the result buffer below rp_call's frame, sets al and calls fn; after it,
// rdx and xmm1 go to the record (and the result buffer to sret), rax and
// xmm0 to c.a and c.b as for any call. On arm64 the same records serve the
// same purpose with AArch64's registers: rdx is x1, xmm0 and xmm1 are d0
// and d1, v2 and v3 the rest of an HFA result, al is not set and the
// result buffer's address goes in x8.
#define RP_F_STACK 112
#define RP_F_NSTACK 120
#define RP_F_NVEC 136
#define RP_F_QUAD 137
#define RP_F_SRET 144
#define RP_F_SRETSIZE 152
#ifdef __aarch64__
#define RP_F_VHIWORDS 8 // the high halves of v0-v7 (Frame.VHi)
#define RP_FX_VHIWORDS 4 // out: the high halves of v0-v3
#else
#define RP_F_VHIWORDS 0
#define RP_FX_VHIWORDS 0
#endif
#define RP_F_VHI 160
#define RP_F_MORE (RP_F_VHI + 8 * RP_F_VHIWORDS)
#define RP_F_SIZE (RP_F_MORE + 16)
#define RP_FX_FN (RP_C_SIZE + 0)
#define RP_FX_RDX (RP_C_SIZE + 8)
#define RP_FX_XMM1 (RP_C_SIZE + 16)
#define RP_FX_VHI (RP_C_SIZE + 24)
#define RP_FX_V2 (RP_FX_VHI + 8 * RP_FX_VHIWORDS)
#define RP_FX_V3 (RP_FX_V2 + 8)
#define RP_FX_SIZE (RP_FX_V2 + 16)
#define RP_FX_MAXSTACK (1 << 16) // bytes of stack arguments, at most
#define RP_FX_MAXSRET (1 << 16)  // bytes of a result in memory, at most

#ifndef __ASSEMBLER__
struct rp_frameargs {
	struct rp_args regs; // rdi..r9, xmm0..xmm7
	uint64_t stack;      // nstack 8-byte stack argument words (read before fn runs)
	uint64_t nstack;
	uint64_t stackcap;   // (a Go slice's capacity)
	uint8_t nvec;        // al: vector registers used (variadic callees)
	uint8_t quad;        // arm64: load v0-v7 whole (vhi) and store v0-v3's high halves
	uint8_t pad[6];
	uint64_t sret;       // where a result in memory is copied to (Go memory), or 0
	uint64_t sretsize;   // its size in bytes; rdi (x8) points to a buffer that large
#if RP_F_VHIWORDS > 0
	uint64_t vhi[RP_F_VHIWORDS]; // arm64: the high halves of v0-v7
#endif
	uint64_t more[2];    // x6 and x7 on arm64 (regs holds x86-64's six integer registers)
};
_Static_assert(offsetof(struct rp_frameargs, more) == RP_F_MORE, "rp_frameargs.more");
_Static_assert(offsetof(struct rp_frameargs, stack) == RP_F_STACK, "rp_frameargs.stack");
_Static_assert(offsetof(struct rp_frameargs, nstack) == RP_F_NSTACK, "rp_frameargs.nstack");
_Static_assert(offsetof(struct rp_frameargs, nvec) == RP_F_NVEC, "rp_frameargs.nvec");
_Static_assert(offsetof(struct rp_frameargs, quad) == RP_F_QUAD, "rp_frameargs.quad");
_Static_assert(offsetof(struct rp_frameargs, sret) == RP_F_SRET, "rp_frameargs.sret");
_Static_assert(offsetof(struct rp_frameargs, sretsize) == RP_F_SRETSIZE, "rp_frameargs.sretsize");
_Static_assert(sizeof(struct rp_frameargs) == RP_F_SIZE, "rp_frameargs size");
struct rp_framerec {
	struct rp_callrec c; // c.fn = rp_frame_thunk, c.args = a struct rp_frameargs, c.nints = -1
	uint64_t fn;         // the function to call
	uint64_t rdx;        // out: rdx
	uint64_t xmm1;       // out: the bits of xmm1
#if RP_FX_VHIWORDS > 0
	uint64_t vhi[RP_FX_VHIWORDS]; // out on arm64, with quad: the high halves of v0-v3
#endif
	uint64_t v2, v3;     // out on arm64: the low 64 bits of v2 and v3
};
_Static_assert(offsetof(struct rp_framerec, v2) == RP_FX_V2, "rp_framerec.v2");
_Static_assert(offsetof(struct rp_framerec, fn) == RP_FX_FN, "rp_framerec.fn");
_Static_assert(offsetof(struct rp_framerec, rdx) == RP_FX_RDX, "rp_framerec.rdx");
_Static_assert(offsetof(struct rp_framerec, xmm1) == RP_FX_XMM1, "rp_framerec.xmm1");
_Static_assert(sizeof(struct rp_framerec) == RP_FX_SIZE, "rp_framerec size");
void rp_frame_thunk(void);
#endif // __ASSEMBLER__

// The gathering call (callframe_amd64.S rp_gather_thunk, callframe_cgo.go):
// rp_call runs rp_gather_thunk as its fn with no register arguments (c.nints
// = 0) and a struct rp_gatherrec. The thunk lays the registers and the stack
// arguments out itself, reading each eightbyte straight from the caller's
// argument values as the program's moves say, so that Go fills no frame.
#define RP_GP_MOVES 0
#define RP_GP_NMOVES 8
#define RP_GP_NSTACK 16
#define RP_GP_NVEC 24
#define RP_GP_SRETSIZE 32
#define RP_GP_X87 40
#define RP_GP_QUAD 48
#define RP_GM_ARG 0
#define RP_GM_DST 4
#define RP_GM_SRC 8
#define RP_GM_SIZE 12
#define RP_GM_CONV 13
#define RP_GM_BYTES 16
#define RP_GM_SEXT 1   // sign-extend from size bytes
#define RP_GM_F32F64 2 // a float, passed as a double
#define RP_GM_STACKADDR 3 // arm64: the address of stack word src (a copy passed by reference)
#define RP_GM_HIGH 4   // arm64: the high 64 bits of vector register dst (a long double in a q register)
#define RP_GM_PAIR 16  // size of a fused move (amd64): two eightbytes to two stack words in one store
#ifdef __aarch64__
#define RP_GM_REGS 16  // moves to dst < 16 fill x0..x7, d0..d7; the rest stack words
#define RP_GM_IMAGE 24 // the register image: x0..x7, d0..d7, then the high halves of v0..v7
#define RP_GX_VHIWORDS 4 // out: the high halves of v0..v3
#else
#define RP_GM_REGS 14  // moves to dst < 14 fill rdi..r9, xmm0..xmm7; the rest stack words
#define RP_GX_VHIWORDS 0
#endif
#define RP_GX_FN RP_FX_FN     // the same places as in struct rp_framerec
#define RP_GX_RDX RP_FX_RDX
#define RP_GX_XMM1 RP_FX_XMM1
#define RP_GX_PROG (RP_C_SIZE + 24)
#define RP_GX_ARGV (RP_C_SIZE + 32)
#define RP_GX_SRET (RP_C_SIZE + 40)
#define RP_GX_VHI (RP_C_SIZE + 48)
#define RP_GX_ST0 (RP_C_SIZE + 48 + 8 * RP_GX_VHIWORDS)
#define RP_GX_V2 RP_GX_ST0 // arm64: v2 and v3 where amd64 has st0
#define RP_GX_V3 (RP_GX_ST0 + 8)
#define RP_GX_SIZE (RP_GX_ST0 + 16)

#ifndef __ASSEMBLER__
struct rp_gmove {
	uint32_t arg;  // index into the argument pointers
	uint32_t dst;  // register (below RP_GM_REGS) or RP_GM_REGS + stack word
	uint32_t src;  // byte offset in the argument's value
	uint8_t size;  // 1 to 8 bytes, or RP_GM_PAIR (amd64)
	uint8_t conv;  // 0, RP_GM_SEXT, RP_GM_F32F64 or (arm64) RP_GM_STACKADDR, RP_GM_HIGH
	uint16_t pad;
};
_Static_assert(offsetof(struct rp_gmove, size) == RP_GM_SIZE, "rp_gmove.size");
_Static_assert(offsetof(struct rp_gmove, arg) == RP_GM_ARG, "rp_gmove.arg");
_Static_assert(offsetof(struct rp_gmove, dst) == RP_GM_DST, "rp_gmove.dst");
_Static_assert(offsetof(struct rp_gmove, src) == RP_GM_SRC, "rp_gmove.src");
_Static_assert(offsetof(struct rp_gmove, conv) == RP_GM_CONV, "rp_gmove.conv");
_Static_assert(sizeof(struct rp_gmove) == RP_GM_BYTES, "rp_gmove size");
#ifndef __aarch64__
// rp_gather_thunk's register image is a struct rp_args: move dst d < 14
// is its 8-byte word d (rdi..r9, then xmm0..xmm7). On arm64 it is an
// image of its own, x0..x7 then d0..d7.
_Static_assert(sizeof(struct rp_args) == RP_GM_REGS * 8 && RP_A_INT == 0 && RP_A_FLOAT == 6 * 8, "rp_args as the gather image");
#endif
struct rp_gprog {
	uint64_t moves;    // struct rp_gmove[nmoves], checked when the program was made
	uint64_t nmoves;
	uint64_t nstack;   // stack argument words
	uint64_t nvec;     // al
	uint64_t sretsize; // bytes of a result in memory, or 0
	uint64_t x87;      // the result is a long double in st0: store and pop it
	uint64_t quad;     // arm64: load v0..v7 whole (RP_GM_HIGH moves) and store v0..v3's high halves
};
_Static_assert(offsetof(struct rp_gprog, sretsize) == RP_GP_SRETSIZE, "rp_gprog.sretsize");
_Static_assert(offsetof(struct rp_gprog, moves) == RP_GP_MOVES, "rp_gprog.moves");
_Static_assert(offsetof(struct rp_gprog, nmoves) == RP_GP_NMOVES, "rp_gprog.nmoves");
_Static_assert(offsetof(struct rp_gprog, nstack) == RP_GP_NSTACK, "rp_gprog.nstack");
_Static_assert(offsetof(struct rp_gprog, nvec) == RP_GP_NVEC, "rp_gprog.nvec");
_Static_assert(offsetof(struct rp_gprog, x87) == RP_GP_X87, "rp_gprog.x87");
_Static_assert(offsetof(struct rp_gprog, quad) == RP_GP_QUAD, "rp_gprog.quad");
struct rp_gatherrec {
	struct rp_callrec c; // c.fn = rp_gather_thunk, c.nints = 0
	uint64_t fn;
	uint64_t rdx;        // out
	uint64_t xmm1;       // out
	uint64_t prog;       // struct rp_gprog
	uint64_t argv;       // the argument values' addresses (read before fn runs)
	uint64_t sret;       // where a result in memory is copied to, or 0
#if RP_GX_VHIWORDS > 0
	uint64_t vhi[RP_GX_VHIWORDS]; // out on arm64, with quad: the high halves of v0..v3
#endif
	uint64_t st0[2];     // out: a long double result (fstpt: 10 bytes); arm64: v2, v3
};
_Static_assert(offsetof(struct rp_gatherrec, xmm1) == RP_GX_XMM1, "rp_gatherrec.xmm1");
_Static_assert(offsetof(struct rp_gatherrec, fn) == RP_GX_FN, "rp_gatherrec.fn");
_Static_assert(offsetof(struct rp_gatherrec, rdx) == RP_GX_RDX, "rp_gatherrec.rdx");
_Static_assert(offsetof(struct rp_gatherrec, prog) == RP_GX_PROG, "rp_gatherrec.prog");
_Static_assert(offsetof(struct rp_gatherrec, argv) == RP_GX_ARGV, "rp_gatherrec.argv");
_Static_assert(offsetof(struct rp_gatherrec, st0) == RP_GX_ST0, "rp_gatherrec.st0");
_Static_assert(offsetof(struct rp_gatherrec, sret) == RP_GX_SRET, "rp_gatherrec.sret");
#if RP_GX_VHIWORDS > 0
_Static_assert(offsetof(struct rp_gatherrec, vhi) == RP_GX_VHI, "rp_gatherrec.vhi");
#endif
_Static_assert(sizeof(struct rp_gatherrec) == RP_GX_SIZE, "rp_gatherrec size");
void rp_gather_thunk(void);
#endif // __ASSEMBLER__
#endif // RUNPLUG_SANDBOX_H
