// cb_store: a plugin that keeps a function pointer its host gives it (a
// loader.Callback) and calls it later: on the calling thread, from a
// thread of its own (pthread_create), and in a loop for benchmarks.
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o cb_store.so cb_store.c

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

typedef int64_t (*cb_fn)(int64_t, int64_t);

static cb_fn stored;

// cb_store keeps fn for the later calls.
void cb_store(cb_fn fn) { stored = fn; }

// cb_call_stored calls the stored function on this thread.
int64_t cb_call_stored(int64_t a, int64_t b) { return stored(a, b); }

// cb_call calls fn(a, b).
int64_t cb_call(cb_fn fn, int64_t a, int64_t b) { return fn(a, b); }

// cb_loop calls the stored function n times (fn(i, 1)) and sums.
int64_t cb_loop(int64_t n) {
	int64_t s = 0;
	for (int64_t i = 0; i < n; i++) {
		s += stored(i, 1);
	}
	return s;
}

struct job {
	pthread_t th;
	cb_fn fn;
	int64_t n;
	int64_t sum;
};

static void *run(void *arg) {
	struct job *j = arg;
	for (int64_t i = 0; i < j->n; i++) {
		j->sum += j->fn(i, 1);
	}
	return NULL;
}

// cb_thread_start starts a thread of the plugin's own that calls the
// stored function n times (fn(i, 1)); it returns a handle for
// cb_thread_join, or 0.
uint64_t cb_thread_start(int64_t n) {
	struct job *j = calloc(1, sizeof *j);
	if (j == NULL) {
		return 0;
	}
	j->fn = stored;
	j->n = n;
	if (pthread_create(&j->th, NULL, run, j) != 0) {
		free(j);
		return 0;
	}
	return (uint64_t)j;
}

// cb_thread_join waits for the thread of h and returns the sum of the
// results it got.
int64_t cb_thread_join(uint64_t h) {
	struct job *j = (struct job *)h;
	pthread_join(j->th, NULL);
	int64_t s = j->sum;
	free(j);
	return s;
}

// cb_call_mixed calls fn(-3, 2.5, "mixed", 0.25f, 65535, 1 << 40): every
// class of argument, a string among them, for a double result.
double cb_call_mixed(double (*fn)(int8_t, double, const char *, float, uint16_t, int64_t)) {
	return fn(-3, 2.5, "mixed", 0.25f, 65535, (int64_t)1 << 40);
}

// cb_call_float calls fn(x, n) for a float result.
float cb_call_float(float (*fn)(double, int64_t, float), double x, int64_t n) { return fn(x, n, 0.5f); }

// cb_call_narrow calls fn(c) and returns its result widened by C.
int32_t cb_call_narrow(int16_t (*fn)(int8_t, _Bool), int8_t c) { return fn(c, 1); }
