// reloc_plt: calls of exported, interposable functions through the PLT, so
// that the object has R_X86_64_JUMP_SLOT relocations in DT_JMPREL (bound
// eagerly by runplug's loader), and a writable function-pointer variable
// initialised to an exported function (R_X86_64_64 with addend 0).
//
// Build: cc -shared -fPIC -O2 -Wall -o reloc_plt.so reloc_plt.c

#include <stdint.h>

__attribute__((noinline)) int64_t plt_twice(int64_t x) { return 2 * x; }
__attribute__((noinline)) int64_t plt_inc(int64_t x) { return x + 1; }

int64_t (*plt_fp)(int64_t) = plt_inc;

int64_t plt_chain(int64_t x) { return plt_inc(plt_twice(x)); }
int64_t plt_via_pointer(int64_t x) { return plt_fp(x); }
