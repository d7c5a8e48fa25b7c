// host_calls: a plugin that calls Go functions its host registered
// (loader.RegisterHostFunc): integer, float and mixed arguments, a string,
// a host function that panics, one that dereferences nil, one that calls
// back into this plugin, and a call from a thread the plugin creates.
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o host_calls.so host_calls.c

#include <pthread.h>
#include <stdint.h>

// Provided by the host.
int64_t host_add(int64_t a, int64_t b);
double host_mix(double x, float f, int32_t n, int8_t s);
float host_half(float x);
int32_t host_strlen(const char *s);
void host_note(int16_t v);
int64_t host_raw(int64_t a, double b);
int64_t host_reenter(int64_t x);
int64_t host_panic(int64_t x);

int64_t call_add(int64_t a, int64_t b) { return host_add(a, b) + 1; }

double call_mix(double x, float f, int32_t n, int8_t s) { return host_mix(x, f, n, s); }

float call_half(float x) { return host_half(x); }

int32_t call_strlen(void) { return host_strlen("hello, host"); }

int64_t call_note(int16_t v) {
	host_note(v);
	return 7;
}

int64_t call_raw(int64_t a, double b) { return host_raw(a, b); }

// leaf is what host_reenter calls back.
int64_t leaf(int64_t x) { return x * 3; }

int64_t call_reenter(int64_t x) { return host_reenter(x) + 1; }

// after_panic counts the returns of host_panic that the plugin saw.
int64_t after_panic = 0;

int64_t call_panic(int64_t x) {
	int64_t r = host_panic(x);
	after_panic++; // never reached when the host function panics
	return r;
}

int64_t get_after_panic(void) { return after_panic; }

// A host function called from a thread the plugin created (no protected
// call encloses it there).
struct add_job {
	int64_t a, b, r;
};

static void *add_thread(void *p) {
	struct add_job *j = p;
	j->r = host_add(j->a, j->b);
	return NULL;
}

// call_add_thread returns host_add(a, b) computed on a new thread, or -1
// when the thread cannot be created.
int64_t call_add_thread(int64_t a, int64_t b) {
	struct add_job j = {a, b, 0};
	pthread_t th;
	if (pthread_create(&th, NULL, add_thread, &j) != 0) {
		return -1;
	}
	pthread_join(th, NULL);
	return j.r;
}
