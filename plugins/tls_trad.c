// Build: cc -shared -fPIC -O2 -Wall -mtls-dialect=trad -o tls_trad.so tls_trad.c
//
// Thread-local variables in AArch64's traditional general-dynamic model
// (-mtls-dialect=trad, an option of AArch64's gcc only; TLSDESC is the
// default there): each access calls __tls_get_addr with a GOT pair that
// R_AARCH64_TLS_DTPMOD64 and R_AARCH64_TLS_DTPREL64 fill. Built by the
// arm64 tests only (loader TestArchRelocTableCoversFixtures).
__thread long tt_shared = 7;
static __thread long tt_counter = 5;

long tt_get(void) { return tt_shared; }
long tt_bump(void) { return ++tt_counter; }
