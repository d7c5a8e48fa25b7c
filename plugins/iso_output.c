// iso_output: a plugin that prints: a line on stdout (through stdio's
// buffer) and one on stderr, and floods a descriptor with MiB after MiB.
//
// Build: cc -shared -fPIC -O2 -Wall -o iso_output.so iso_output.c

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int64_t out_say(int64_t n) {
	printf("hi %ld\n", (long)n);
	fprintf(stderr, "err %ld\n", (long)n);
	return n;
}

// out_flood writes mib MiB of 'x' to fd and returns the bytes written
// (fewer when a write fails).
int64_t out_flood(int64_t fd, int64_t mib) {
	static char buf[64 << 10];
	memset(buf, 'x', sizeof buf);
	int64_t done = 0;
	for (int64_t i = 0; i < mib * 16; i++) {
		size_t off = 0;
		while (off < sizeof buf) {
			ssize_t w = write((int)fd, buf + off, sizeof buf - off);
			if (w <= 0) {
				return done;
			}
			off += (size_t)w;
			done += w;
		}
	}
	return done;
}
