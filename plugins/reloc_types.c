// reloc_types: one plugin whose relocation tables hold R_X86_64_RELATIVE
// (pointers to local data), R_X86_64_64 with a non-zero addend (a pointer
// into the middle of an exported array), R_X86_64_GLOB_DAT (reads of an
// exported, interposable variable through the GOT) and R_X86_64_JUMP_SLOT
// (calls of an exported, interposable function through the PLT). Each
// getter returns something the test checks against the symbol table.
//
// Build: cc -shared -fPIC -O2 -Wall -fno-plt -o reloc_types.so reloc_types.c

#include <stdint.h>

// RELATIVE: a table of pointers to static (local) strings.
static const char s0[] = "zero";
static const char s1[] = "one";
static const char s2[] = "two";
static const char *const local_table[3] = {s0, s1, s2};

// 64 with addend: a pointer to rt_array[5], an exported (preemptible)
// symbol, so the linker emits R_X86_64_64 rt_array + 20.
int32_t rt_array[8] = {10, 11, 12, 13, 14, 15, 16, 17};
int32_t *rt_array_ptr = &rt_array[5];

// GLOB_DAT: an exported variable read through the GOT.
int64_t rt_value = 1234;

// JUMP_SLOT (with -fno-plt, a GOT slot; the test also checks the
// relocation types actually present): an exported function called from
// another one.
__attribute__((noinline)) int64_t rt_callee(int64_t x) { return x * 3 + 1; }

const char *rt_local_string(int i) { return local_table[i % 3]; }
int32_t *rt_array_addr(void) { return rt_array_ptr; }
int32_t rt_array_elem(void) { return *rt_array_ptr; }
int64_t rt_value_get(void) { return rt_value; }
int64_t *rt_value_addr(void) { return &rt_value; }
int64_t rt_call(int64_t x) { return rt_callee(x); }

// Writes into its own text: the fault report must name the segment.
void rt_write_text(void) { *(volatile char *)(void *)rt_callee = 0; }
