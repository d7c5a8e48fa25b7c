// Debugger and profiler registration of runplug's objects: see
// debugreg.c (gdb, through the r_debug protocol) and traceback.c (Go CPU
// profiles, through runtime.SetCgoTraceback).
#ifndef RUNPLUG_DEBUGREG_H
#define RUNPLUG_DEBUGREG_H

#include <stdint.h>

// debugreg.c
int rp_dbg_init(void);                 // 0, or why the r_debug chain cannot be used
void *rp_dbg_add(uint64_t l_addr, const char *name, uint64_t l_ld);
void rp_dbg_remove(void *lm);
int rp_dbg_watched(void);              // a debugger has its breakpoint on r_brk
uint64_t rp_dbg_namespace(void);       // the address of runplug's r_debug node (tests)
uint64_t rp_dbg_base(void);            // the r_debug debuggers read (tests)
void *rp_dbg_test_dlmopen(const char *name);
void rp_dbg_test_dlclose(void *h);

// traceback.c
// One function symbol of an object: [lo, lo+size), name an offset into the
// object's string block. rp_prof_add takes lo relative to the load bias
// and keeps it absolute.
struct rp_psym {
	uint64_t lo;
	uint64_t size;
	uint64_t name;
};
// The Go runtime's argument blocks (runtime/traceback.go, cgoTracebackArg
// and cgoSymbolizerArg).
struct rp_tb_arg {
	uintptr_t context;
	uintptr_t sig_context;
	uintptr_t *buf;
	uintptr_t max;
};

struct rp_sym_arg {
	uintptr_t pc;
	const char *file;
	uintptr_t lineno;
	const char *func;
	uintptr_t entry;
	uintptr_t more;
	uintptr_t data;
};

void *rp_prof_add(uint64_t lo, uint64_t hi, uint64_t base, const char *path,
	const struct rp_psym *syms, uint64_t nsyms, const char *strs, uint64_t strsz);
void rp_prof_kill(void *obj);
void rp_prof_set_host(void *traceback, void *symbolizer);
void rp_cgo_traceback(void *arg);
void rp_cgo_symbolizer(void *arg);
uint64_t rp_prof_live(void); // objects in the table (tests)
// rp_prof_test_traceback calls rp_cgo_traceback as the SIGPROF handler
// would, with a context holding pc, sp, fp and lr (AArch64's link
// register; ignored on x86-64), the thread's protected call
// frame (rp_self.cur) at top meanwhile (0: none) (tests).
void rp_prof_test_traceback(uint64_t pc, uint64_t sp, uint64_t fp, uint64_t lr, uint64_t top, uintptr_t *buf, uintptr_t max);
void rp_prof_test_host_traceback(void *arg);
void rp_prof_test_host_symbolizer(void *arg);
long rp_prof_test_host_calls(void);

#endif
