// host_types: functions of every argument and result type that typed
// bindings (loader.Bind0..Bind6, loader.Bind) support, functions whose
// result registers have garbage above the result's width, and a fault.
//
// Build: cc -shared -fPIC -O2 -Wall -o host_types.so host_types.c

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// Identities: the result has the argument's type.
bool id_bool(bool x) { return x; }
int8_t id_i8(int8_t x) { return x; }
int16_t id_i16(int16_t x) { return x; }
int32_t id_i32(int32_t x) { return x; }
int64_t id_i64(int64_t x) { return x; }
uint8_t id_u8(uint8_t x) { return x; }
uint16_t id_u16(uint16_t x) { return x; }
uint32_t id_u32(uint32_t x) { return x; }
uint64_t id_u64(uint64_t x) { return x; }
uintptr_t id_uptr(uintptr_t x) { return x; }
void *id_ptr(void *x) { return x; }
float id_f32(float x) { return x; }
double id_f64(double x) { return x; }

// Widening: what the callee sees of a narrow argument, as 64 bits.
int64_t wide_i8(int8_t x) { return x; }
int64_t wide_i16(int16_t x) { return x; }
int64_t wide_i32(int32_t x) { return x; }
uint64_t wide_u8(uint8_t x) { return x; }
uint64_t wide_u16(uint16_t x) { return x; }
uint64_t wide_u32(uint32_t x) { return x; }
int64_t wide_bool(bool x) { return x ? 1 : 0; }
double wide_f32(float x) { return x; }

// Results with undefined upper bits (the ABI allows it): rax =
// 0xdeadbeefffffff85, so an int8/int16/int32 result is -123, a uint8 133;
// al = 0 with the other bits set is false; xmm0 holds garbage above a
// float32 of 1.5.
#if defined(__aarch64__)
// The same in x0 and d0 (AAPCS64 leaves the bits above a narrow result
// unspecified too), as top-level assembly: gcc has no naked functions on
// AArch64.
int32_t dirty_i32(void);
int8_t dirty_i8(void);
int16_t dirty_i16(void);
uint8_t dirty_u8(void);
uint16_t dirty_u16(void);
uint32_t dirty_u32(void);
bool dirty_false(void);
float dirty_f32(void);
#define DIRTY_X0(name, lo) \
	".globl " name "\n.type " name ", %function\n" name ":\n" \
	"\tmovz x0, #" lo "\n\tmovk x0, #0xffff, lsl #16\n\tmovk x0, #0xbeef, lsl #32\n\tmovk x0, #0xdead, lsl #48\n\tret\n"
__asm__(".text\n" DIRTY_X0("dirty_i32", "0xff85") DIRTY_X0("dirty_i8", "0xff85") DIRTY_X0("dirty_i16", "0xff85")
        DIRTY_X0("dirty_u8", "0xff85") DIRTY_X0("dirty_u16", "0xff85") DIRTY_X0("dirty_u32", "0xff85")
        DIRTY_X0("dirty_false", "0xff00")
        ".globl dirty_f32\n.type dirty_f32, %function\ndirty_f32:\n"
        "\tmovz x0, #0\n\tmovk x0, #0x3fc0, lsl #16\n\tmovk x0, #0x5678, lsl #32\n\tmovk x0, #0x1234, lsl #48\n"
        "\tfmov d0, x0\n\tret\n");
#else
__attribute__((naked)) int32_t dirty_i32(void) { __asm__("movabsq $0xdeadbeefffffff85, %rax\n\tret"); }
__attribute__((naked)) int8_t dirty_i8(void) { __asm__("movabsq $0xdeadbeefffffff85, %rax\n\tret"); }
__attribute__((naked)) int16_t dirty_i16(void) { __asm__("movabsq $0xdeadbeefffffff85, %rax\n\tret"); }
__attribute__((naked)) uint8_t dirty_u8(void) { __asm__("movabsq $0xdeadbeefffffff85, %rax\n\tret"); }
__attribute__((naked)) uint16_t dirty_u16(void) { __asm__("movabsq $0xdeadbeefffffff85, %rax\n\tret"); }
__attribute__((naked)) uint32_t dirty_u32(void) { __asm__("movabsq $0xdeadbeefffffff85, %rax\n\tret"); }
__attribute__((naked)) bool dirty_false(void) { __asm__("movabsq $0xdeadbeefffffff00, %rax\n\tret"); }
__attribute__((naked)) float dirty_f32(void) {
	__asm__("movabsq $0x123456783fc00000, %rax\n\tmovq %rax, %xmm0\n\tret");
}
#endif

// Mixed classes: integer and float arguments interleaved.
double mix6(int32_t a, double b, int8_t c, float d, uint16_t e, int64_t f) {
	return (double)a + b + (double)c + (double)d + (double)e + (double)f;
}

int64_t sum6(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f) {
	return a + 10 * b + 100 * c + 1000 * d + 10000 * e + 100000 * f;
}

float mulf(float a, float b) { return a * b; }

// Every register: 6 integers and 8 doubles.
double all14(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f, double x0, double x1,
             double x2, double x3, double x4, double x5, double x6, double x7) {
	return (double)(a + b + c + d + e + f) + x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}

// Strings arrive as NUL-terminated copies.
size_t str_len(const char *s) { return s ? strlen(s) : (size_t)-1; }
int32_t str_cmp(const char *a, const char *b) { return strcmp(a, b); }
// str_first returns the first byte of s past its length check.
int32_t str_at(const char *s, int32_t i) { return (unsigned char)s[i]; }

// No result.
static int64_t stored;
void store(int64_t v) { stored = v; }
int64_t load(void) { return stored; }

// A fault through a typed call.
int32_t crash_null(int32_t x) {
	volatile int32_t *p = NULL;
	return *p + x;
}
