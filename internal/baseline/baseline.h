// The system-loader baseline of baseline_cgo.go (glibc's dlopen).
#ifndef RUNPLUG_BASELINE_H
#define RUNPLUG_BASELINE_H

#include <stdint.h>

// rp_sys_result is a handle or an address, or a malloc'd error message.
struct rp_sys_result {
	uint64_t value;
	char *err;
};

struct rp_sys_result rp_sys_dlopen(const char *path, int noload);
struct rp_sys_result rp_sys_dlsym(uint64_t h, const char *name);
char *rp_sys_dlclose(uint64_t h);
int64_t rp_sys_call2(uint64_t fn, int64_t a, int64_t b);
int64_t rp_sys_loop2(uint64_t fn, int64_t n);
int64_t rp_sys_loop_export(int64_t n);
int64_t rp_sys_fault_loop(int64_t n);
int64_t rp_sys_loop_export_handle(uintptr_t h, int64_t n);
uint64_t rp_sys_export_add_addr(void);

// A 24-byte struct (class MEMORY: passed on the stack, returned through a
// hidden pointer), for the general call's benchmark.
struct rp_s24 {
	int64_t a, b, c;
};
struct rp_s24 rp_sys_call_s24(uint64_t fn, struct rp_s24 s);

int64_t rp_sys_loop_export_recover(int64_t n);

#endif
