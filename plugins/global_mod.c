// global_mod: a module that imports glib_add from global_lib without
// needing it (no DT_NEEDED entry), as a Lua C module imports lua_* from
// the interpreter that loads it: it loads only once global_lib is loaded
// with LoadOptions.Global.
//
// Build: cc -shared -fPIC -O2 -Wall -o global_mod.so global_mod.c

#include <stdint.h>

extern int64_t glib_add(int64_t);

int64_t mod_add_twice(int64_t x) {
	glib_add(x);
	return glib_add(x);
}
