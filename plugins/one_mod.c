// one_mod: a module of one_reg, which one_reg dlopens: it needs one_reg
// (DT_NEEDED one_reg.so) and registers itself from its constructor.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-soname,one_mod.so -o one_mod.so one_mod.c -L. -l:one_reg.so -Wl,-rpath,$ORIGIN
// Needs: one_reg

#include <stdint.h>

extern void reg_add(void);
extern int64_t reg_count(void);

__attribute__((constructor)) static void mod_init(void) { reg_add(); }

int64_t mod_sees(void) { return reg_count(); }
