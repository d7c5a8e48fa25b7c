// cxx_exc: C++ exceptions, backtraces, dladdr, atexit and thread_local
// destructors in a plugin that runplug loads with its own copies of
// libstdc++ and libgcc_s (and cxx_dep). Every exported function is
// extern "C" and returns a number the test checks.
//
// Build: c++ -shared -fPIC -O2 -Wall -fno-omit-frame-pointer -o cxx_exc.so cxx_exc.cpp -L. -l:libcxx_dep.so -Wl,-rpath,$ORIGIN
// Needs: cxx_dep

#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <unwind.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#include "cxx_dep.h"

extern "C" {

// The example of the issue: 46 when the exception is caught.
long throw_catch(long n) {
	try {
		if (n > 0) {
			throw std::runtime_error("boom");
		}
		return 0;
	} catch (const std::exception &e) {
		return 42 + (long)strlen(e.what());
	}
}

// Thrown in the dependency, caught here by its own type: the code.
long catch_from_dep(long code) {
	try {
		dep_throw(code);
	} catch (const DepError &e) {
		return e.code();
	}
	return -1;
}

// The typeinfo of DepError seen here is the dependency's (one object,
// not a copy), and catching it by a base class works: 3.
long typeinfo_same(void) {
	long r = 0;
	if (&typeid(DepError) == &dep_error_type()) {
		r |= 1;
	}
	try {
		dep_throw(1);
	} catch (const std::runtime_error &e) {
		if (typeid(e) == dep_error_type()) {
			r |= 2;
		}
	}
	return r;
}

// std::exception_ptr: captured in one catch, rethrown later: 7.
long exception_ptr_rethrow(void) {
	std::exception_ptr p;
	try {
		dep_throw(7);
	} catch (...) {
		p = std::current_exception();
	}
	try {
		std::rethrow_exception(p);
	} catch (const DepError &e) {
		return e.code();
	}
	return -1;
}

// Destructors of the frames an exception passes through run: n.
static long destroyed;
struct Guard {
	~Guard() { destroyed++; }
};
__attribute__((noinline)) static void nest(long n) {
	Guard g;
	if (n <= 1) {
		throw std::out_of_range("deep");
	}
	nest(n - 1);
	asm volatile("" ::: "memory");
}
long dtors_during_unwind(long n) {
	destroyed = 0;
	try {
		nest(n);
	} catch (const std::out_of_range &) {
		return destroyed;
	}
	return -1;
}

// n throws and catches, through the dependency: n (the benchmark and the
// concurrency test).
long throw_many(long n) {
	long caught = 0;
	for (long i = 0; i < n; i++) {
		try {
			dep_throw(i);
		} catch (const DepError &e) {
			caught += e.code() == i;
		}
	}
	return caught;
}

// One throw and catch inside this object: the benchmark's unit.
long throw_once(long n) {
	try {
		throw n;
	} catch (long v) {
		return v + 1;
	}
}

// An exception that escapes an extern "C" function: no handler up to the
// trampoline, std::terminate, abort().
long throw_escape(long n) {
	throw std::runtime_error("escapes " + std::to_string(n));
}

// Backtraces from a frame called by the dependency, called by this
// object. _Unwind_Backtrace's frames are counted until it stops; each is
// named with dladdr. bits: 1 bt_leaf seen, 2 dep_call seen (in
// libcxx_dep), 4 backtrace_walk seen, 8 the walk ended with
// _URC_END_OF_STACK; the frame count goes in bits 8 and up. backtrace()'s
// count goes to *bt_frames.
struct walk {
	long frames, bits;
};
static _Unwind_Reason_Code walk_frame(struct _Unwind_Context *ctx, void *arg) {
	struct walk *w = (struct walk *)arg;
	Dl_info info;
	uintptr_t pc = _Unwind_GetIP(ctx);
	if (pc != 0 && dladdr((void *)(pc - 1), &info) != 0 && info.dli_sname != NULL) {
		if (strcmp(info.dli_sname, "bt_leaf") == 0) {
			w->bits |= 1;
		} else if (strstr(info.dli_sname, "dep_call") != NULL && info.dli_fname != NULL &&
		           strstr(info.dli_fname, "libcxx_dep.so") != NULL) {
			w->bits |= 2;
		} else if (strcmp(info.dli_sname, "backtrace_walk") == 0) {
			w->bits |= 4;
		}
	}
	if (++w->frames > 1000) {
		return _URC_NORMAL_STOP;
	}
	return _URC_NO_REASON;
}
static long *bt_out;
long bt_leaf(long arg) {
	struct walk w = {0, 0};
	_Unwind_Reason_Code rc = _Unwind_Backtrace(walk_frame, &w);
	if (rc == _URC_END_OF_STACK) {
		w.bits |= 8;
	}
	void *pcs[64];
	*bt_out = backtrace(pcs, 64);
	asm volatile("" ::: "memory");
	return w.bits | w.frames << 8 | arg;
}
long backtrace_walk(long *bt_frames) {
	bt_out = bt_frames;
	long r = dep_call(bt_leaf, 0);
	asm volatile("" ::: "memory");
	return r - 1;
}

// backtrace_symbols names this object's frames in glibc's format,
// "FILE(SYMBOL+0xOFF) [0xPC]": the first frame (this function) goes to
// buf (n bytes). The number of frames is returned.
long bt_symbols(char *buf, long n) {
	void *pcs[16];
	int k = backtrace(pcs, 16);
	char **names = backtrace_symbols(pcs, k);
	if (names == NULL || k < 1) {
		return 0;
	}
	strncpy(buf, names[0], n - 1);
	buf[n - 1] = 0;
	free(names);
	return k;
}

// dladdr and dladdr1 on this object's own function: bits 1 found, 2 the
// symbol is dladdr_self at its address, 4 dladdr1's link_map has the
// same base and name, 8 its symbol entry has a size; *base gets
// dli_fbase, and the file name is copied to name (n bytes).
long dladdr_self(char *name, long n, uint64_t *base) {
	Dl_info info;
	long r = 0;
	if (dladdr((void *)&dladdr_self, &info) == 0) {
		return 0;
	}
	r |= 1;
	if (info.dli_sname != NULL && strcmp(info.dli_sname, "dladdr_self") == 0 && info.dli_saddr == (void *)&dladdr_self) {
		r |= 2;
	}
	*base = (uint64_t)info.dli_fbase;
	strncpy(name, info.dli_fname, n - 1);
	name[n - 1] = 0;
	struct link_map *map = NULL;
	Dl_info info1;
	if (dladdr1((void *)&dladdr_self, &info1, (void **)&map, RTLD_DL_LINKMAP) != 0 && map != NULL &&
	    map->l_addr == (ElfW(Addr))info.dli_fbase && strcmp(map->l_name, info.dli_fname) == 0) {
		r |= 4;
	}
	const ElfW(Sym) *sym = NULL;
	if (dladdr1((void *)&dladdr_self, &info1, (void **)&sym, RTLD_DL_SYMENT) != 0 && sym != NULL && sym->st_size > 0) {
		r |= 8;
	}
	return r;
}

// dladdr on a host C library function (strlen): falls through to glibc.
long dladdr_libc(char *name, long n) {
	Dl_info info;
	if (dladdr((void *)&strlen, &info) == 0) {
		return 0;
	}
	strncpy(name, info.dli_fname, n - 1);
	name[n - 1] = 0;
	return 1;
}

// atexit handlers (registered with this object's __dso_handle) run at
// Close, as at dlclose: each adds 1 to *counter.
static long *atexit_counter;
static void atexit_bump(void) { (*atexit_counter)++; }
long atexit_register(long *counter) {
	atexit_counter = counter;
	return atexit(atexit_bump);
}

// A static object with a destructor: registered through __cxa_atexit by
// the constructor that builds it; its destructor adds 100 to *counter.
struct Static {
	long *counter = nullptr;
	~Static() {
		if (counter != nullptr) {
			(*counter) += 100;
		}
	}
};
static Static static_object;
long static_dtor_counter(long *counter) {
	static_object.counter = counter;
	return 0;
}

// A thread_local object with a destructor (registered through
// __cxa_thread_atexit_impl on first use by a thread): when the thread
// exits, its destructor adds 1 to the counter it was given.
struct Local {
	long *counter = nullptr;
	~Local() {
		if (counter != nullptr) {
			__atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
		}
	}
};
static thread_local Local local;
long tl_touch(long *counter) {
	local.counter = counter;
	return 1;
}

// The fault after which the plugin is quarantined (destructors skipped).
long crash(void) {
	*(volatile long *)nullptr = 1;
	return 0;
}

} // extern "C"
