// parse_hashboth: a plugin linked with both hash tables (DT_HASH and
// DT_GNU_HASH) and every export versioned by its soname, so the parser's
// System V hash path, its GNU hash path and its version tables are all
// checked on real linker output.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,--hash-style=both -Wl,-soname,libparse_hashboth.so -Wl,--default-symver -o parse_hashboth.so parse_hashboth.c

#include <stdint.h>
#include <string.h>

int64_t hb_counter = 7;
const char hb_name[] = "parse_hashboth";

int64_t hb_add(int64_t a, int64_t b) { return a + b; }
int64_t hb_sub(int64_t a, int64_t b) { return a - b; }
__attribute__((weak)) int64_t hb_weak(void) { return 1; }
__attribute__((visibility("protected"))) int64_t hb_protected(void) { return 2; }
__attribute__((visibility("hidden"))) int64_t hb_hidden(void) { return 3; }

// An import from libc, so the object has DT_NEEDED and a versioned need.
size_t hb_len(const char *s) { return strlen(s) + (size_t)hb_hidden(); }

// Many short names, so that buckets hold chains longer than one.
#define F(n) int64_t hb_f##n(void) { return n; }
F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9)
F(10) F(11) F(12) F(13) F(14) F(15) F(16) F(17) F(18) F(19)
F(20) F(21) F(22) F(23) F(24) F(25) F(26) F(27) F(28) F(29)
