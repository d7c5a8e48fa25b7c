// ver_user: imports ver_answer from ver_lib twice: once bound to the old
// version VER_1 (with .symver), once to the default (VER_2).
//
// Build: cc -shared -fPIC -O2 -Wall -o ver_user.so ver_user.c -L. -l:ver_lib.so -Wl,-rpath,$ORIGIN
// Needs: ver_lib

#include <stdint.h>

extern int64_t ver_answer(void);
extern int64_t ver_answer_old(void);
__asm__(".symver ver_answer_old,ver_answer@VER_1");

int64_t ver_user_old(void) { return ver_answer_old(); }
int64_t ver_user_new(void) { return ver_answer(); }
