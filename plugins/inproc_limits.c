// Build: cc -shared -fPIC -O2 -Wall -o inproc_limits.so inproc_limits.c
// inproc_limits: what in-process containment does not contain, as
// README.md's "What is protected" table says: a plugin's exit() ends the
// host with its status, and a plugin's sigaction replaces the handlers that
// trap faults, so a later fault ends the host. Used by limits_test.go,
// which runs each in a child process; if runplug ever contains them, the
// test fails and the README must change.
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

int64_t leave(int64_t code) {
	exit((int)code);
}

int64_t reset_segv_then_fault(void) {
	struct sigaction sa = {0};
	sa.sa_handler = SIG_DFL;
	sigaction(SIGSEGV, &sa, 0);
	volatile int *p = 0;
	return *p;
}
