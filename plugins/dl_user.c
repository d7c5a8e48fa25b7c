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
