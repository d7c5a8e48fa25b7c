// global_lib: a library a host loads with LoadOptions.Global, as it loads
// liblua for the Lua C modules that import lua_* from it without a
// DT_NEEDED entry (global_mod is one). Its state shows that the module
// bound to this very instance.
//
// Build: cc -shared -fPIC -O2 -Wall -o global_lib.so global_lib.c

#include <stdint.h>

static int64_t total;

int64_t glib_add(int64_t x) { return total += x; }
int64_t glib_total(void) { return total; }
