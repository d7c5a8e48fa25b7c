// dl_user: calls dlopen, dlsym, dlclose, dlerror and dlinfo itself, on
// its own thread and on one it creates. dl_target is found through the
// plugin's DT_RUNPATH ($ORIGIN), as ld.so would find it.
//
// Build: cc -shared -fPIC -O2 -Wall -o dl_user.so dl_user.c -ldl -lpthread -Wl,-rpath,$ORIGIN
// Needs: dl_target

#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int64_t dl_open(const char *name, int64_t flags) { return (int64_t)dlopen(name, (int)flags); }

// dl_call looks sym up in h (RTLD_DEFAULT when h is 0) and calls it with
// arg: -1000 when dlsym finds nothing.
int64_t dl_call(int64_t h, const char *sym, int64_t arg) {
	int64_t (*f)(int64_t) = (int64_t(*)(int64_t))dlsym((void *)h, sym);
	if (f == NULL) {
		return -1000;
	}
	return f(arg);
}

int64_t dl_close(int64_t h) { return dlclose((void *)h); }

// dl_error copies dlerror()'s message into buf: its length, or -1 when
// there is none.
int64_t dl_error(char *buf, int64_t n) {
	const char *e = dlerror();
	if (e == NULL) {
		return -1;
	}
	strncpy(buf, e, n - 1);
	buf[n - 1] = 0;
	return (int64_t)strlen(e);
}

int64_t dl_next(const char *sym) { return (int64_t)dlsym(RTLD_NEXT, sym); }

// The base dlinfo gives h's link map, and the base dladdr gives for sym in h.
int64_t dl_linkmap_base(int64_t h) {
	struct link_map *m = NULL;
	if (dlinfo((void *)h, RTLD_DI_LINKMAP, &m) != 0 || m == NULL) {
		return -1;
	}
	return (int64_t)m->l_addr;
}
int64_t dl_addr_base(int64_t h, const char *sym) {
	Dl_info info;
	void *p = dlsym((void *)h, sym);
	if (p == NULL || dladdr(p, &info) == 0) {
		return -1;
	}
	return (int64_t)info.dli_fbase;
}

// The whole sequence on a thread this plugin creates (no protected call
// around it): dlopen, dlsym, call, dlclose.
struct job {
	const char *name, *sym;
	int64_t arg, result;
};
static void *run_job(void *p) {
	struct job *j = p;
	void *h = dlopen(j->name, RTLD_NOW);
	j->result = -2000;
	if (h != NULL) {
		j->result = dl_call((int64_t)h, j->sym, j->arg);
		dlclose(h);
	}
	return NULL;
}
int64_t dl_in_thread(const char *name, const char *sym, int64_t arg) {
	struct job j = {name, sym, arg, 0};
	pthread_t th;
	if (pthread_create(&th, NULL, run_job, &j) != 0) {
		return -3000;
	}
	pthread_join(th, NULL);
	return j.result;
}

// dl_iterate_phdr sees the host's objects first (the executable, named
// "") and then runplug's, this plugin among them with its
// PT_GNU_EH_FRAME. bits: 1 the first object is the executable, 2 this
// plugin was found (the object whose PT_LOADs hold dl_iterate_self), 4
// it has a PT_GNU_EH_FRAME, 8 its dlpi_addr is *base, 16 dlpi_adds > 0.
struct iter {
	int64_t n, bits;
	uint64_t base;
};
static int iter_cb(struct dl_phdr_info *info, size_t size, void *p) {
	struct iter *it = p;
	if (it->n++ == 0 && info->dlpi_name != NULL && info->dlpi_name[0] == 0) {
		it->bits |= 1;
	}
	uintptr_t self = (uintptr_t)&iter_cb;
	int mine = 0, eh = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && self >= lo && self < lo + ph->p_memsz) {
			mine = 1;
		}
		if (ph->p_type == PT_GNU_EH_FRAME) {
			eh = 1;
		}
	}
	if (mine) {
		it->bits |= 2 | (eh ? 4 : 0) | (info->dlpi_addr == it->base ? 8 : 0);
		if (size >= offsetof(struct dl_phdr_info, dlpi_subs) && info->dlpi_adds > 0) {
			it->bits |= 16;
		}
	}
	return 0;
}
int64_t dl_iterate_self(uint64_t base) {
	struct iter it = {0, 0, base};
	dl_iterate_phdr(iter_cb, &it);
	return it.bits;
}

// _dl_find_object on this plugin's own code. bits: 1 found, 2 the range
// holds it, 4 an eh_frame is given, 8 the link map's l_addr is base.
int64_t dl_find_self(uint64_t base) {
	struct dl_find_object r;
	int64_t bits = 0;
	void *pc = (void *)&dl_find_self;
	if (_dl_find_object(pc, &r) != 0) {
		return 0;
	}
	bits |= 1;
	if (pc >= r.dlfo_map_start && pc < r.dlfo_map_end) {
		bits |= 2;
	}
	if (r.dlfo_eh_frame != NULL) {
		bits |= 4;
	}
	if (r.dlfo_link_map != NULL && r.dlfo_link_map->l_addr == base) {
		bits |= 8;
	}
	return bits;
}

// A constructor that calls dlopen: refused (the Loader is busy loading
// this very plugin), with a dlerror that says so.
static char ctor_error[256];
__attribute__((constructor)) static void open_in_ctor(void) {
	if (dlopen("dl_target.so", RTLD_NOW) == NULL) {
		const char *e = dlerror();
		strncpy(ctor_error, e != NULL ? e : "", sizeof ctor_error - 1);
	}
}
int64_t dl_ctor_error(char *buf, int64_t n) {
	strncpy(buf, ctor_error, n - 1);
	buf[n - 1] = 0;
	return (int64_t)strlen(ctor_error);
}

// dlvsym(RTLD_DEFAULT, sym, version).
int64_t dl_vsym(const char *sym, const char *version) { return (int64_t)dlvsym(RTLD_DEFAULT, sym, version); }

// dlsym(RTLD_DEFAULT, sym): finds this plugin's own definitions too.
int64_t dl_default(const char *sym) { return (int64_t)dlsym(RTLD_DEFAULT, sym); }

// dlinfo(h, RTLD_DI_ORIGIN): the directory h was loaded from, into buf
// (glibc needs PATH_MAX bytes there).
int64_t dl_origin(int64_t h, char *buf) { return dlinfo((void *)h, RTLD_DI_ORIGIN, buf); }
