// The system-loader baseline of baseline_cgo.go (glibc's dlopen).
#ifndef RUNPLUG_BASELINE_H
#define RUNPLUG_BASELINE_H

#include <stddef.h>
#include <stdint.h>

void *rp_sys_dlopen_now(const char *path);
int rp_sys_is_loaded(const char *path);
uint64_t rp_sys_dlsym(void *h, const char *name);
int rp_sys_dlclose(void *h);
void rp_sys_dlerror(char *buf, size_t n);

#endif
