// ver_lib: two versions of one function, selected with .symver and the
// version script ver_lib.map: ver_answer@VER_1 returns 1, the default
// ver_answer@@VER_2 returns 2.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,--version-script=ver_lib.map -Wl,-soname,ver_lib.so -o ver_lib.so ver_lib.c

#include <stdint.h>

__attribute__((used)) int64_t ver_answer_v1(void) { return 1; }
__attribute__((used)) int64_t ver_answer_v2(void) { return 2; }
__asm__(".symver ver_answer_v1,ver_answer@VER_1");
__asm__(".symver ver_answer_v2,ver_answer@@VER_2");

int64_t ver_only_v1(void) { return 11; }
