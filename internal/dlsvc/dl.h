// dl.h: the dynamic-linker services runplug serves to the objects it
// loads (dl.c): the object table, and the functions their imports of
// _dl_find_object, dl_iterate_phdr, dladdr, dladdr1, dlinfo, dlerror,
// __cxa_atexit, __cxa_finalize and __cxa_thread_atexit_impl bind to.

#ifndef RUNPLUG_DL_H
#define RUNPLUG_DL_H

#include <stddef.h>
#include <stdint.h>

// What the loader tells the table about one object (rp_dl_add copies it).
struct rp_dl_desc {
	uint64_t base;     // load base (l_addr)
	uint64_t lo, hi;   // [lo, hi): its PT_LOAD segments, as mapped
	uint64_t phdr;     // its program headers: in its image, or a malloc'd copy the table takes over
	uint64_t phnum;
	uint64_t phdr_image; // phdr is in the image (not to be freed)
	uint64_t eh_frame; // PT_GNU_EH_FRAME, absolute, or 0
	uint64_t dynamic;  // PT_DYNAMIC, absolute, or 0 (l_ld)
	uint64_t symtab;   // DT_SYMTAB, absolute, or 0
	uint64_t nsyms;
	uint64_t strtab;   // DT_STRTAB, absolute
	uint64_t strsz;
	uint64_t unwind_backtrace, unwind_getip; // libgcc_s's, in the object's scope, or 0
	uint64_t deps;     // handles of its direct dependencies (ndeps, copied), or 0
	uint64_t ndeps;
};

// The table (dl.c).
void rp_dl_setup(void); // once, before anything else (creates the thread key)
// rp_dl_add copies d and the n bytes of path (not NUL-terminated) and
// returns the object's handle (0: out of memory).
uint64_t rp_dl_add(const struct rp_dl_desc *d, const char *path, size_t n);
void rp_dl_remove(uint64_t handle);
uint64_t rp_dl_handle_at(uint64_t addr);           // the live object containing addr, or 0
int rp_dl_is_handle(uint64_t handle);               // handle is a live object of the table
int64_t rp_dl_deps(uint64_t handle, uint64_t *out, int64_t n); // its live direct dependencies (count; up to n in out)
void rp_dl_set_error(const char *msg);              // the calling thread's dlerror message (copied; NULL clears)
uint64_t rp_dl_counts(uint64_t *subs);              // adds (and subs) so far
int64_t rp_dl_thread_dtors(void);                   // thread_local destructors pending on this thread
int64_t rp_dl_atexit_pending(uint64_t handle);      // __cxa_atexit handlers pending for an object
int64_t rp_dl_keys(uint64_t handle);                // pthread keys with a destructor in an object

// The implementations imports bind to, by import name (dl_cgo.go lists
// them); glibc's own for everything that is not runplug's.
struct dl_find_object;
struct dl_phdr_info;
int rp_dl_find_object(void *pc, struct dl_find_object *r);
int rp_dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data);
int rp_dl_addr(const void *addr, void *info);
int rp_dl_addr1(const void *addr, void *info, void **extra, int flags);
int rp_dl_info(void *handle, int request, void *arg);
char *rp_dl_error(void);
void *rp_dl_mopen(long lmid, const char *name, int flags);
int rp_dl_cxa_atexit(void (*fn)(void *), void *arg, void *dso);
void rp_dl_cxa_finalize(void *dso);
int rp_dl_cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso);
int rp_dl_pthread_key_create(unsigned int *key, void (*dtor)(void *));
int rp_dl_pthread_key_delete(unsigned int key);
int rp_dl_backtrace(void **buf, int size);
char **rp_dl_backtrace_symbols(void *const *buf, int size);
void rp_dl_backtrace_symbols_fd(void *const *buf, int size, int fd);

// Benchmark baselines (dl.c): glibc's _dl_find_object and ours, called
// n times on pc, from C.
int64_t rp_dl_bench_find(uint64_t pc, int64_t n, int ours);

// The host's own glibc libraries (hostlib.c).
void *rp_dlopen_noload(const char *name);
size_t rp_loaded_names(char *buf, size_t n);
uint64_t rp_dlsym(void *h, const char *name, const char *version);
size_t rp_dl_needed(void *h, char *buf, size_t n);
uint64_t rp_dlsym_own(void *h, const char *name, const char *version, int *exec, uint64_t *size);

#endif // RUNPLUG_DL_H
