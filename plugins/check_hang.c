// check_hang: a constructor that never returns (it waits for a signal
// forever): `runplug check` must report a timeout, under runplug and
// dlopen alike, and go on.
//
// Build: cc -shared -fPIC -O2 -Wall -o check_hang.so check_hang.c

#include <unistd.h>

__attribute__((constructor)) static void hang(void) {
	for (;;) {
		pause();
	}
}

int check_hang_never(void) { return 0; }
