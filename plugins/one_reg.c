// one_reg: a registry that loads modules with dlopen, as GStreamer, GIO,
// PAM or OpenSSL do; each module (one_mod) needs one_reg back and
// registers itself from its constructor. With one copy of one_reg per
// opener, as glibc has, the module registers with this very instance.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,one_reg.so -o one_reg.so one_reg.c -ldl -Wl,-rpath,$ORIGIN

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

static int64_t count;
static void *handle;

// reg_add is what a module calls to register itself.
void reg_add(void) { count++; }

int64_t reg_count(void) { return count; }

// reg_load dlopens the module by name (found through this object's
// DT_RUNPATH, $ORIGIN) and returns the registry's count after it, or -1.
int64_t reg_load(const char *name) {
	handle = dlopen(name, RTLD_NOW);
	if (handle == NULL) {
		return -1;
	}
	return count;
}

// reg_self dlopens this library by its own name and reports whether the
// handle finds this very instance's reg_count.
int64_t reg_self(void) {
	void *h = dlopen("one_reg.so", RTLD_NOW);
	if (h == NULL) {
		return -1;
	}
	int64_t same = dlsym(h, "reg_count") == (void *)reg_count;
	dlclose(h);
	return same;
}

// reg_mod_sees returns the count the module reads through its own
// binding of reg_count (its DT_NEEDED one_reg.so), or -1.
int64_t reg_mod_sees(void) {
	if (handle == NULL) {
		return -1;
	}
	int64_t (*f)(void) = (int64_t (*)(void))dlsym(handle, "mod_sees");
	return f != NULL ? f() : -1;
}
