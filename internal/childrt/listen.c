//go:build linux && (amd64 || arm64) && cgo

// listen.c: installs an isolated child's first seccomp filter with a
// listener and hands the listener to the host, through two words of the
// memory they share. It is C, not Go, because it must not need the Go
// scheduler: once the filter is in, a thread the Go runtime starts
// (pthread_create tries clone3 first) waits for the host's answer, and
// the host answers only once it has the listener. Go code here could wait
// for a P that the runtime is handing to that very thread; this code runs
// on and offers. The host takes the listener without the child's help,
// so the child may go on meanwhile (its load: a call the filter sends to
// the listener waits until the host has it) and wait for the host later,
// before any plugin code (rp_await_listener, at most timeout_ns); it
// closes the child's copy whatever the outcome: a pending notification
// then fails with ENOSYS, which pthread_create survives (it falls back
// to clone). A host that cannot take an offered listener ends the child
// (package isolate's listen.go).

#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "listen.h"

static int64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void wake(uint32_t *w) { syscall(SYS_futex, w, FUTEX_WAKE, 1 << 30, 0, 0, 0); }

static int cas(uint32_t *w, uint32_t old, uint32_t new) {
	return __atomic_compare_exchange_n(w, &old, new, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

// rp_offer_listener installs the filter and offers its listener: it
// returns the listener's descriptor (offered: rp_await_listener waits
// for the host and closes it), RP_OFFER_HOST_REFUSED when the host had
// said before that it cannot take one (nothing installed), or -errno
// when the kernel refused the filter with a listener (nothing
// installed). TSYNC and NEW_LISTENER both return a number, so the kernel
// takes them together only with TSYNC_ESRCH (Linux 5.7). Each change of
// *state also wakes the waiters on *also (the host's wait for the whole
// start is there, and tells the host's listener at once, rather than at
// its next look).
int rp_offer_listener(const void *filter, unsigned short len, uint32_t *state, int32_t *fdword, uint32_t *also) {
	if (__atomic_load_n(state, __ATOMIC_SEQ_CST) == RP_LISTEN_REFUSED)
		return RP_OFFER_HOST_REFUSED;
	struct sock_fprog fp = {.len = len, .filter = (struct sock_filter *)filter};
	long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	                  SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH | SECCOMP_FILTER_FLAG_NEW_LISTENER, &fp);
	if (fd < 0) {
		int e = errno;
		__atomic_store_n(fdword, e, __ATOMIC_SEQ_CST);
		if (cas(state, RP_LISTEN_NONE, RP_LISTEN_NOKERNEL)) {
			wake(state);
			wake(also);
		}
		return -e;
	}
	__atomic_store_n(fdword, (int32_t)fd, __ATOMIC_SEQ_CST);
	if (cas(state, RP_LISTEN_NONE, RP_LISTEN_OFFERED)) {
		wake(state);
		wake(also);
	}
	return (int)fd;
}

// rp_await_listener waits (at most timeout_ns) for the host to take the
// listener fd that rp_offer_listener offered, withdraws the offer if it
// did not, and closes fd: 0 when the host took it, 1 when it did not
// (the filter is in, and its listener gone: every call it sends there
// fails with ENOSYS).
int rp_await_listener(int fd, uint32_t *state, int64_t timeout_ns) {
	if (__atomic_load_n(state, __ATOMIC_SEQ_CST) == RP_LISTEN_OFFERED) {
		int64_t deadline = now_ns() + timeout_ns;
		while (__atomic_load_n(state, __ATOMIC_SEQ_CST) == RP_LISTEN_OFFERED) {
			int64_t left = deadline - now_ns();
			if (left <= 0)
				break;
			struct timespec ts = {.tv_sec = left / 1000000000, .tv_nsec = left % 1000000000};
			syscall(SYS_futex, state, FUTEX_WAIT, RP_LISTEN_OFFERED, &ts, 0, 0);
		}
		cas(state, RP_LISTEN_OFFERED, RP_LISTEN_WITHDRAWN);
	}
	close((int)fd);
	return __atomic_load_n(state, __ATOMIC_SEQ_CST) == RP_LISTEN_TAKEN ? 0 : 1;
}
