// key_dtor: a pthread key whose destructor is in the plugin, set on the
// calling thread. Once the plugin is closed that destructor must not run
// when the thread exits (it would call into the closed image).
//
// Build: cc -shared -fPIC -O2 -Wall -o key_dtor.so key_dtor.c -lpthread

#include <pthread.h>

static pthread_key_t key;

// dtor counts its runs in the counter the value points to (host memory).
static void dtor(void *p) { __atomic_add_fetch((long *)p, 1, __ATOMIC_SEQ_CST); }

// key_set creates the key and sets counter as the calling thread's value.
int key_set(long *counter) {
	if (pthread_key_create(&key, dtor) != 0) {
		return -1;
	}
	return pthread_setspecific(key, counter);
}

int key_delete(void) { return pthread_key_delete(key); }
