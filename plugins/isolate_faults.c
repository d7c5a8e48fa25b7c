// isolate_faults: what an isolated plugin (package isolate) may do wrong:
// every fault kind the sandbox traps, ends of its process (exit, abort,
// kill), system calls the default policy forbids, and a buffer and a
// string to pass across the process boundary. The isolate tests call it
// in a child process.
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o isolate_faults.so isolate_faults.c

#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char _end[] __attribute__((visibility("hidden")));
extern char __ehdr_start[] __attribute__((visibility("hidden")));

// image_base is the load base (where the ELF header is mapped): the guard
// page before the image ends there.
int64_t image_base(void) { return (int64_t)(uintptr_t)__ehdr_start; }

int64_t add(int64_t a, int64_t b) { return a + b; }

// Faults (see plugins/faults.c for what each must report).
static int64_t *volatile null_ptr;
int64_t null_read(void) { return *null_ptr; }
int64_t read_rdi(int64_t p) { return *(volatile int64_t *)(uintptr_t)p; }
int64_t trap(void) { __builtin_trap(); }
static volatile int64_t zero;
int64_t div_zero(int64_t a) { return a / zero; }
int64_t write_text(void);
static void *volatile text_ptr = (void *)write_text;
int64_t write_text(void) {
	*(volatile uint8_t *)text_ptr = 0xcc;
	return 0;
}
const int64_t rodata[4] = {1, 2, 3, 4};
static const int64_t *volatile rodata_ptr = rodata;
int64_t write_rodata(void) {
	*(volatile int64_t *)(uintptr_t)rodata_ptr = 5;
	return 0;
}
uint8_t data_code[16] = {0xc3};
int64_t jump_data(void) {
	void (*volatile f)(void) = (void (*)(void))(uintptr_t)data_code;
	f();
	return 0;
}
int64_t read_past_end(void) {
	volatile char *p = _end;
	int64_t sum = 0;
	for (;;) {
		sum += *p++;
	}
	return sum;
}
int64_t recurse(int64_t n) {
	volatile char frame[256];
	if (n < 0) {
		return n;
	}
	frame[0] = (char)n;
	return recurse(n + 1) + frame[0];
}
int64_t breakpoint(void) {
#if defined(__aarch64__)
	__asm__ volatile("brk #0");
#else
	__asm__ volatile("int3");
#endif
	return 0;
}
int64_t do_abort(void) { abort(); }
// SIGBUS: a shared file mapping read past the end of its (empty) file.
// Needs memfd_create, which the default policy does not allow.
int64_t bus(void) {
	int fd = memfd_create("bus", 0);
	if (fd < 0) {
		return -1;
	}
	volatile char *p = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
	return *p;
}

// Ends of the process.
int64_t do_exit(int64_t code) { _exit((int)code); }
int64_t kill_self(void) { return kill(getpid(), SIGKILL); }
// raise_default: sig with its default action, from the process itself (an
// init of a PID namespace would ignore it).
int64_t raise_default(int64_t sig) {
	signal((int)sig, SIG_DFL);
	return raise((int)sig);
}
// thread_fault: a fault on a thread of the plugin's own, outside any
// call's protection: the Go runtime's crash ends the process with the
// fault's signal.
static void *fault_thread(void *arg) {
	(void)arg;
	return (void *)(intptr_t)*null_ptr;
}
int64_t thread_fault(void) {
	pthread_t t;
	if (pthread_create(&t, NULL, fault_thread, NULL) != 0)
		return -1;
	pthread_join(t, NULL);
	return 0;
}
int64_t spin(void) {
	for (;;) {
		__asm__ volatile("");
	}
}

// System calls.
int64_t raw_syscall(int64_t nr, int64_t a, int64_t b, int64_t c) { return syscall(nr, a, b, c); }
int64_t open_path(const char *path) { return open(path, O_RDONLY); }
int64_t do_exec(void) {
	char *argv[] = {"true", NULL};
	return execv("/bin/true", argv);
}
int64_t do_socket(void) { return socket(AF_INET, SOCK_STREAM, 0); }
int64_t do_fork(void) { return fork(); }
int64_t alloc(int64_t n) {
	void *p = malloc((size_t)n);
	if (p == NULL) {
		return 0;
	}
	memset(p, 1, (size_t)n);
	free(p);
	return 1;
}

// Buffers and strings.
// invert sums buf[0:n] and replaces each byte by its complement.
int64_t invert(uint8_t *buf, int64_t n) {
	int64_t sum = 0;
	for (int64_t i = 0; i < n; i++) {
		sum += buf[i];
		buf[i] = (uint8_t)~buf[i];
	}
	return sum;
}
int64_t str_len(const char *s) { return (int64_t)strlen(s); }

// A destructor that faults once armed: Close must report the fault (in
// process and isolated alike), and the process must still end.
static volatile int dtor_armed;
int64_t arm_dtor_fault(void) { return dtor_armed = 1; }
__attribute__((destructor)) static void dtor_fault(void) {
	if (dtor_armed) {
		*null_ptr = 1;
	}
}
