// isolate_join: host functions called from threads the plugin creates,
// one waiting for another: run_t1's thread calls host_h1, whose Go code
// calls f_join, which starts a thread that calls host_h2 and joins it.
// The second host call must run while the first waits for it.
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o isolate_join.so isolate_join.c

#include <pthread.h>
#include <stdint.h>

int64_t host_h1(int64_t x);
int64_t host_h2(int64_t x);

static void *t2(void *arg) {
	int64_t *r = arg;
	*r = host_h2(*r);
	return 0;
}

// f_join returns x + host_h2(5), host_h2 called from a thread of its own.
int64_t f_join(int64_t x) {
	pthread_t t;
	int64_t r = 5;
	if (pthread_create(&t, 0, t2, &r) != 0) {
		return -1;
	}
	pthread_join(t, 0);
	return x + r;
}

static void *t1(void *arg) {
	int64_t *r = arg;
	*r = host_h1(*r);
	return 0;
}

// run_t1 returns host_h1(x), host_h1 called from a thread of its own.
int64_t run_t1(int64_t x) {
	pthread_t t;
	int64_t r = x;
	if (pthread_create(&t, 0, t1, &r) != 0) {
		return -1;
	}
	pthread_join(t, 0);
	return r;
}
