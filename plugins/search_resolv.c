// search_resolv: needs glibc's libresolv.so.2 (DF_STATIC_TLS, so runplug
// could not load it itself) and calls __b64_ntop from it: glibc's own
// libraries come from the host.
//
// Build: cc -shared -fPIC -O2 -Wall -o search_resolv.so search_resolv.c -lresolv

#include <resolv.h>
#include <stddef.h>

// search_b64 writes the base64 encoding of in[0:n] to out (size outsz) and
// returns its length, or -1.
int search_b64(const unsigned char *in, size_t n, char *out, size_t outsz) {
	return b64_ntop(in, n, out, outsz);
}
