// hostile_shm: an isolated plugin that attacks the shared memory of its
// channel. nul_attack is given a buffer (which the child places at the
// start of the channel's data area), finds the mapping's header below it
// (the page that starts with the magic "rpis"), and starts a thread that
// rewrites the part of the channel kept for host calls with 'A' (the
// NULs of the strings the child copies there included) while it calls
// host_strlen again and again: it returns the longest length the host
// function reported, which must be the string's own.
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o hostile_shm.so hostile_shm.c

#include <pthread.h>
#include <stdint.h>
#include <string.h>

int32_t host_strlen(const char *s);

static volatile int stop;
static volatile char *area;
static size_t area_len;

static void *scribble(void *arg) {
	(void)arg;
	while (!stop) {
		for (size_t i = 0; i < area_len; i++) {
			area[i] = 'A';
		}
	}
	return 0;
}

// find_base returns the start of the mapping that holds p: the nearest
// page at or below p that starts with the magic.
static const unsigned char *find_base(const void *p) {
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)4095;
	for (int i = 0; i < (1 << 16) && a >= 4096; i++, a -= 4096) {
		if (*(const volatile uint32_t *)a == 0x72706973) {
			return (const unsigned char *)a;
		}
	}
	return 0;
}

int64_t nul_attack(char *buf, int64_t rounds) {
	const unsigned char *base = find_base(buf);
	if (!base) {
		return -1;
	}
	uint32_t slot_size;
	memcpy(&slot_size, base + 12, sizeof slot_size); // header.slotSize
	size_t data_len = slot_size - 4096;
	area = buf + (data_len - data_len / 8);
	area_len = data_len / 8;
	stop = 0;
	pthread_t t;
	if (pthread_create(&t, 0, scribble, 0) != 0) {
		return -2;
	}
	int64_t longest = 0;
	for (int64_t i = 0; i < rounds; i++) {
		int32_t n = host_strlen("hello, host");
		if (n > longest) {
			longest = n;
		}
	}
	stop = 1;
	pthread_join(t, 0);
	return longest;
}
