// The system loader (glibc's dlopen) as a baseline for benchmarks and an
// oracle for tests: see baseline_cgo.go.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

#include "baseline.h"

void *rp_sys_dlopen_now(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }

int rp_sys_is_loaded(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (h == NULL) {
		return 0;
	}
	dlclose(h); // drop the reference RTLD_NOLOAD took
	return 1;
}

uint64_t rp_sys_dlsym(void *h, const char *name) { return (uint64_t)dlsym(h, name); }

int rp_sys_dlclose(void *h) { return dlclose(h); }

// rp_sys_dlerror copies dlerror()'s message (empty when there is none).
void rp_sys_dlerror(char *buf, size_t n) {
	const char *e = dlerror();
	size_t i = 0;
	if (n == 0) {
		return;
	}
	if (e != NULL) {
		for (; i + 1 < n && e[i] != 0; i++) {
			buf[i] = e[i];
		}
	}
	buf[i] = 0;
}
