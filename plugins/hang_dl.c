// hang_dl: plugin code that faults or spins inside runplug's
// dynamic-linker services: in a dl_iterate_phdr callback (over one of
// glibc's objects, whose walk holds glibc's dl_load_write_lock, and over
// its own entry, runplug's table), and by handing dladdr and dlinfo a bad
// pointer to write to. After each, the host must load, call and close
// plugins, and walk the objects from another thread, as before.
//
// Build: cc -shared -fPIC -O2 -Wall -o hang_dl.so hang_dl.c -ldl

#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>

static int mine(struct dl_phdr_info *info) {
	return info->dlpi_name != NULL && strstr(info->dlpi_name, "hang_dl") != NULL;
}

static int fault_first(struct dl_phdr_info *info, size_t size, void *data) {
	*(volatile int *)0 = 1;
	return 0;
}

static int fault_mine(struct dl_phdr_info *info, size_t size, void *data) {
	if (mine(info)) {
		*(volatile int *)0 = 1;
	}
	return 0;
}

static int spin_first(struct dl_phdr_info *info, size_t size, void *data) {
	for (;;) {
		__asm__ volatile("" ::: "memory");
	}
	return 0;
}

static int spin_mine(struct dl_phdr_info *info, size_t size, void *data) {
	while (mine(info)) {
		__asm__ volatile("" ::: "memory");
	}
	return 0;
}

static int count(struct dl_phdr_info *info, size_t size, void *data) {
	int *n = data;
	*n += 1 + 1000 * mine(info);
	return 0;
}

int iter_fault_host(void) { return dl_iterate_phdr(fault_first, NULL); }
int iter_fault_mine(void) { return dl_iterate_phdr(fault_mine, NULL); }
int iter_spin_host(void) { return dl_iterate_phdr(spin_first, NULL); }
int iter_spin_mine(void) { return dl_iterate_phdr(spin_mine, NULL); }

// objects returns the entries dl_iterate_phdr gives, plus 1000 for its
// own (so > 1000 when it saw itself).
int objects(void) {
	int n = 0;
	dl_iterate_phdr(count, &n);
	return n;
}

int dladdr_bad(void) { return dladdr((void *)objects, (Dl_info *)16); }

int dlinfo_bad(void) {
	Dl_info info;
	struct link_map *map = NULL;
	if (dladdr1((void *)objects, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL) {
		return -1;
	}
	return dlinfo(map, RTLD_DI_ORIGIN, (void *)16);
}
