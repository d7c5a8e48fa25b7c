// iso_nest: calls nested to any depth between a host and its plugin:
// through a host function (host_nest) and through a callback, from the
// thread the host called on and from a thread of the plugin's own (each
// level starts one, calls there and joins it). Each level adds 1.
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o iso_nest.so iso_nest.c

#include <pthread.h>
#include <stdint.h>

int64_t host_nest(int64_t n);

typedef int64_t (*nest_fn)(int64_t);

int64_t nest_host(int64_t n) { return host_nest(n) + 1; }
int64_t nest_cb(nest_fn cb, int64_t n) { return cb(n) + 1; }

struct job {
	nest_fn cb; // NULL: host_nest
	int64_t n, r;
};

static void *run(void *arg) {
	struct job *j = arg;
	j->r = j->cb ? j->cb(j->n) : host_nest(j->n);
	return 0;
}

static int64_t on_thread(nest_fn cb, int64_t n) {
	struct job j = {cb, n, 0};
	pthread_t t;
	if (pthread_create(&t, 0, run, &j) != 0) {
		return -1000000;
	}
	pthread_join(t, 0);
	return j.r + 1;
}

int64_t nest_host_thread(int64_t n) { return on_thread(0, n); }
int64_t nest_cb_thread(nest_fn cb, int64_t n) { return on_thread(cb, n); }
