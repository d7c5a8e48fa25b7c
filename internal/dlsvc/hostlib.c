//go:build linux && (amd64 || arm64) && cgo

// hostlib.c: the host's own glibc libraries as glibc has them loaded
// (OpenHostLibrary, hostlib_cgo.go): dlopen with RTLD_NOLOAD, dlsym and
// dlvsym, a library's own definitions and DT_NEEDED entries.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include "dl.h"

void *rp_dlopen_noload(const char *name) { return dlopen(name, RTLD_NOLOAD | RTLD_LAZY); }

// rp_loaded_names writes the base names of the objects glibc has loaded
// (its dl_iterate_phdr, no system call), each NUL-terminated, into buf as
// far as n bytes go, and returns the bytes all of them need. A dlopen
// with RTLD_NOLOAD of a library that is not loaded searches the path for
// it and opens the file before it fails: asking it of each of glibc's
// libraries cost a process dozens of opens.
struct rp_names {
	char *buf;
	size_t n, used;
};

static int rp_names_add(struct dl_phdr_info *info, size_t size, void *data) {
	struct rp_names *r = data;
	const char *name = info->dlpi_name;
	if (name == NULL || name[0] == 0) {
		return 0;
	}
	const char *slash = strrchr(name, '/');
	const char *base = slash != NULL ? slash + 1 : name;
	size_t len = strlen(base) + 1;
	if (r->used + len <= r->n) {
		memcpy(r->buf + r->used, base, len);
	}
	r->used += len;
	return 0;
}

size_t rp_loaded_names(char *buf, size_t n) {
	struct rp_names r = {buf, n, 0};
	dl_iterate_phdr(rp_names_add, &r);
	return r.used;
}

static void *rp_dlsym1(void *h, const char *name, const char *version) {
	if (version != NULL && version[0] != 0) {
		return dlvsym(h, name, version);
	}
	return dlsym(h, name);
}

uint64_t rp_dlsym(void *h, const char *name, const char *version) {
	void *p = rp_dlsym1(h, name, version);
	if (p == NULL) {
		// The handle of ld.so itself has an empty search scope (it was
		// never dlopen'ed): look the name up globally and keep the
		// answer only if it is defined in h's own object.
		struct link_map *want, *got;
		Dl_info info;
		void *q = rp_dlsym1(RTLD_DEFAULT, name, version);
		if (q != NULL && dlinfo(h, RTLD_DI_LINKMAP, &want) == 0 &&
		    dladdr1(q, &info, (void **)&got, RTLD_DL_LINKMAP) != 0 && got == want) {
			p = q;
		}
	}
	return (uint64_t)p;
}

// rp_dl_needed writes the DT_NEEDED names of h's object, each
// NUL-terminated, into buf as far as n bytes go, and returns the bytes all
// of them need. glibc loaded the object (one of its own libraries): its
// dynamic section is trusted, and read in memory, since an isolated child
// may open no file once loaded. DT_STRTAB is an address once glibc has
// relocated it in place, an offset before.
size_t rp_dl_needed(void *h, char *buf, size_t n) {
	struct link_map *lm;
	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || lm->l_ld == NULL) {
		return 0;
	}
	const char *strtab = NULL;
	for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_STRTAB) {
			uintptr_t v = d->d_un.d_ptr;
			strtab = (const char *)(v < lm->l_addr ? v + lm->l_addr : v);
		}
	}
	if (strtab == NULL) {
		return 0;
	}
	size_t used = 0;
	for (const ElfW(Dyn) *d = lm->l_ld; d->d_tag != DT_NULL; d++) {
		if (d->d_tag != DT_NEEDED) {
			continue;
		}
		const char *s = strtab + d->d_un.d_val;
		size_t len = strlen(s) + 1;
		if (used + len <= n) {
			memcpy(buf + used, s, len);
		}
		used += len;
	}
	return used;
}

// rp_dlsym_own finds name in h's own object, not in what it needs: one
// step of the breadth-first search dlsym makes over a handle's
// dependencies, which Plugin.Lookup repeats over the glibc libraries among
// a plugin's. dlsym searches h's scope (h first); dladdr1 says which
// object the answer is in. exec reports an address in an executable
// segment (a function; an IFUNC's resolved target), size the symbol's
// size when the answer is the symbol itself.
struct rp_own_cb {
	uintptr_t base, addr;
	int exec;
};

static int rp_own_phdr(struct dl_phdr_info *info, size_t size, void *data) {
	struct rp_own_cb *c = data;
	if (info->dlpi_addr != c->base) {
		return 0;
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && c->addr >= lo && c->addr - lo < ph->p_memsz) {
			c->exec = (ph->p_flags & PF_X) != 0;
			return 1;
		}
	}
	return 1;
}

uint64_t rp_dlsym_own(void *h, const char *name, const char *version, int *exec, uint64_t *size) {
	void *p = (void *)rp_dlsym(h, name, version);
	struct link_map *want, *got;
	const ElfW(Sym) *sym = NULL;
	Dl_info info;
	*exec = 0;
	*size = 0;
	if (p == NULL || dlinfo(h, RTLD_DI_LINKMAP, &want) != 0 ||
	    dladdr1(p, &info, (void **)&got, RTLD_DL_LINKMAP) == 0 || got != want) {
		return 0;
	}
	struct rp_own_cb c = {want->l_addr, (uintptr_t)p, 0};
	dl_iterate_phdr(rp_own_phdr, &c);
	*exec = c.exec;
	if (dladdr1(p, &info, (void **)&sym, RTLD_DL_SYMENT) != 0 && sym != NULL &&
	    want->l_addr + sym->st_value == (uintptr_t)p) {
		*size = sym->st_size;
	}
	return (uint64_t)p;
}

