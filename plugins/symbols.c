// symbols: what Plugin.Symbols lists, in process and isolated: an exported
// function and data object of a version, a thread-local variable and a
// hidden function (both left out), and a local one (not exported).
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,--version-script=symbols.map -o symbols.so symbols.c

#include <stdint.h>

int64_t sym_table[4] = {1, 2, 3, 4};
__thread int64_t sym_tls;

__attribute__((visibility("hidden"))) int64_t sym_hidden(int64_t x) { return x * 3; }
static int64_t sym_local(int64_t x) { return x - 1; }

int64_t sym_func(int64_t x) { return sym_hidden(x) + sym_local(x) + sym_tls; }
