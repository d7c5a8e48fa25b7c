// hostile: an isolated plugin that attacks its host, its siblings and the
// machine, one entry point per attack (isolate's TestHostile runs each in
// a confined child and checks that the host survived, the attack had no
// effect and the error names it). Each returns what it got: a result, or
// -errno when the kernel or the filter refused without stopping it.
//
// Build: cc -shared -fPIC -O2 -Wall -pthread -o hostile.so hostile.c

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <linux/sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int64_t ret(long r) { return r < 0 ? -errno : r; }

// Signals to another process: the host (the parent) or a sibling pid.
int64_t sigqueue_parent(void) {
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	return ret(syscall(SYS_rt_sigqueueinfo, getppid(), SIGKILL, &si));
}

// SIGSYS the plugin sends itself. sigsys_self: with tgkill, whose
// si_code the kernel sets (SI_TKILL): the child's handler ignores a
// SIGSYS that is not a seccomp trap's, and the call returns 7.
int64_t sigsys_self(void) {
	if (syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS) != 0)
		return -errno;
	return 7;
}

// sigsys_forged queues itself a seccomp trap's siginfo (si_code
// SYS_SECCOMP, which a process may give a signal to itself), naming
// execve; arg 1: rt_tgsigqueueinfo, else rt_sigqueueinfo; the signal's
// number with high bits set when hibits (the kernel reads an int).
static int64_t sigsys_forged_as(int tg, long hibits) {
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGSYS;
	si.si_code = 1; // SYS_SECCOMP
	si.si_call_addr = (void *)&sigsys_forged_as;
	si.si_syscall = SYS_execve;
#ifdef __x86_64__
	si.si_arch = 0xc000003e; // AUDIT_ARCH_X86_64
#else
	si.si_arch = 0xc00000b7; // AUDIT_ARCH_AARCH64
#endif
	long sig = SIGSYS | hibits;
	if (tg)
		return ret(syscall(SYS_rt_tgsigqueueinfo, getpid(), syscall(SYS_gettid), sig, &si));
	return ret(syscall(SYS_rt_sigqueueinfo, getpid(), sig, &si));
}

int64_t sigsys_forged(void) { return sigsys_forged_as(0, 0); }
int64_t sigsys_forged_tg(void) { return sigsys_forged_as(1, 0); }
int64_t sigsys_forged_hibits(void) { return sigsys_forged_as(0, 1L << 32); }

int64_t tgsigqueue_parent(void) {
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_code = SI_QUEUE;
	return ret(syscall(SYS_rt_tgsigqueueinfo, getppid(), getppid(), SIGKILL, &si));
}

int64_t kill_pid(int64_t pid) { return ret(kill((pid_t)pid, SIGKILL)); }
int64_t kill0_pid(int64_t pid) { return ret(kill((pid_t)pid, 0)); }
int64_t kill0_self(void) { return ret(kill(getpid(), 0)); }
int64_t tgkill_pid(int64_t pid) { return ret(syscall(SYS_tgkill, pid, pid, SIGKILL)); }
int64_t tkill_pid(int64_t pid) { return ret(syscall(SYS_tkill, pid, SIGKILL)); }
int64_t pidfd_kill(int64_t pid) { return ret(syscall(SYS_pidfd_open, pid, 0)); }

// fork_bomb forks up to n processes that wait forever and returns how
// many it made (it stops at the first refusal).
int64_t fork_bomb(int64_t n) {
	int64_t i;
	for (i = 0; i < n; i++) {
#if defined(SYS_fork)
		pid_t pid = (pid_t)syscall(SYS_fork);
#else // AArch64 has no fork: clone with SIGCHLD, as glibc's fork makes it
		pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
		if (pid < 0)
			break;
		if (pid == 0)
			for (;;)
#if defined(SYS_pause)
				syscall(SYS_pause);
#else
				syscall(SYS_ppoll, 0, 0, 0, 0, 0);
#endif
	}
	return i;
}

// proc_pids counts the processes /proc lists (its numeric entries), or
// -errno: in a PID namespace of its own, with its own /proc, two.
int64_t proc_pids(void) {
	DIR *d = opendir("/proc");
	if (d == NULL)
		return -errno;
	int64_t n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9')
			n++;
	closedir(d);
	return n;
}

// pid_scan names every pid from 1 to n with pidfd_open and kill(pid, 0)
// and returns how many name a task of another process (any answer but
// ESRCH; its own threads are those tgkill finds in its own group): in a
// PID namespace of its own, only the namespace's init.
int64_t pid_scan(int64_t n) {
	int64_t seen = 0;
	pid_t self = getpid();
	for (int64_t pid = 1; pid <= n; pid++) {
		if (syscall(SYS_tgkill, self, pid, 0) == 0)
			continue; // a thread of this process
		int fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd >= 0)
			close(fd);
		if (fd >= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			seen++;
	}
	return seen;
}

// kill_pid_hibits: the pid in the low 32 bits, garbage above (the kernel
// reads an int; the filter must not read it as another pid).
int64_t kill_pid_hibits(int64_t pid) { return ret(syscall(SYS_kill, (1L << 32) | (uint64_t)pid, SIGKILL)); }

// The I/O signal of a descriptor aimed at pid: an O_ASYNC pipe whose
// owner is pid and whose signal is SIGKILL, then a write.
int64_t sigio_owner(int64_t pid) {
	int p[2];
	if (pipe2(p, 0) != 0)
		return -errno;
	if (fcntl(p[0], F_SETSIG, SIGKILL) != 0 || fcntl(p[0], F_SETOWN, (int)pid) != 0 ||
	    fcntl(p[0], F_SETFL, O_ASYNC) != 0)
		return -errno;
	return ret(write(p[1], "x", 1));
}

int64_t sigio_owner_ex(int64_t pid) {
	int p[2];
	if (pipe2(p, 0) != 0)
		return -errno;
	struct f_owner_ex o = {.type = F_OWNER_PID, .pid = (pid_t)pid};
	return ret(fcntl(p[0], F_SETOWN_EX, &o));
}

// fcntl_hibits: F_SETOWN with bits above the low 32 of the command.
int64_t fcntl_hibits(int64_t pid) {
	int p[2];
	if (pipe2(p, 0) != 0)
		return -errno;
	return ret(syscall(SYS_fcntl, p[0], (1L << 32) | F_SETOWN, pid));
}

int64_t ioctl_setown(int64_t pid) {
	int p[2];
	if (pipe2(p, 0) != 0)
		return -errno;
	int v = (int)pid;
	return ret(ioctl(p[0], FIOSETOWN, &v));
}

int64_t ioctl_spgrp(int64_t pid) {
	int p[2];
	if (pipe2(p, 0) != 0)
		return -errno;
	int v = (int)pid;
	return ret(ioctl(p[0], SIOCSPGRP, &v));
}

// tty_query: stdio's isatty on standard output; answered ENOTTY.
int64_t tty_query(void) {
	char t[64];
	return ret(ioctl(1, TCGETS, t));
}

// Descriptors: read or write one the host may have left open.
int64_t read_fd(int64_t fd, char *buf, int64_t n) { return ret(read((int)fd, buf, (size_t)n)); }
int64_t write_fd(int64_t fd, const char *s) { return ret(write((int)fd, s, strlen(s))); }

// Files: read the first bytes of path into buf.
int64_t read_file(const char *path, char *buf, int64_t n) {
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	return ret(read(fd, buf, (size_t)n));
}

// write_file creates path and writes s to it.
int64_t write_file(const char *path, const char *s) {
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	return ret(write(fd, s, strlen(s)));
}

// Threads: start up to n that wait forever; the number started.
static int forever;
static void *wait_forever(void *arg) {
	(void)arg;
	for (;;)
		syscall(SYS_futex, &forever, FUTEX_WAIT, 0, NULL, NULL, 0);
	return NULL;
}

int64_t thread_flood(int64_t n) {
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 << 10);
	int64_t i;
	for (i = 0; i < n; i++) {
		pthread_t t;
		if (pthread_create(&t, &a, wait_forever, NULL) != 0)
			break;
	}
	pthread_attr_destroy(&a);
	return i;
}

// memfd_flood writes up to mb MiB to memfds, 64 MiB each; the bytes
// written.
int64_t memfd_flood(int64_t mb) {
	static char chunk[1 << 20];
	memset(chunk, 7, sizeof chunk);
	int64_t total = 0;
	int fd = -1;
	for (int64_t i = 0; i < mb; i++) {
		if (i % 64 == 0) {
			fd = (int)syscall(SYS_memfd_create, "flood", 0);
			if (fd < 0)
				return total;
		}
		ssize_t w = write(fd, chunk, sizeof chunk);
		if (w <= 0)
			return total;
		total += w;
	}
	return total;
}

// Other architectures' system calls: getpid through the x32 ABI and
// through int $0x80 (i386).
int64_t x32_getpid(void) { return ret(syscall(0x40000000 | SYS_getpid)); }
int64_t i386_getpid(void) {
#if defined(__x86_64__)
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
	return r;
#else
	return -ENOSYS; // AArch64 code cannot make AArch32's calls
#endif
}

// clone3 asking for a process, as glibc's fork would (flags in memory,
// out of the filter's sight): stopped and named with its flags.
int64_t raw_clone3(void) {
	struct clone_args a;
	pid_t tid;
	memset(&a, 0, sizeof a);
	a.flags = CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
	a.child_tid = (uintptr_t)&tid;
	a.exit_signal = SIGCHLD;
	long r = syscall(SYS_clone3, &a, sizeof a);
	if (r == 0)
		_exit(0); // a process was made: it leaves at once
	return ret(r);
}

// clone3 asking for a thread, as pthread_create does: answered ENOSYS
// (glibc then calls clone, whose flags the filter reads).
int64_t raw_clone3_thread(void) {
	struct clone_args a;
	memset(&a, 0, sizeof a);
	a.flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
	return ret(syscall(SYS_clone3, &a, sizeof a));
}

static void *thread_main(void *arg) { return arg; }

// clone3_flip: a thread flips clone_args.flags between a thread's and a
// fork's while clone3 is called on them 1000 times, to make the host
// read one and the kernel act on the other. The host refuses every call
// whatever it read: the result is -ENOSYS (each read as a thread's) or
// the child is stopped at clone3; no process is made.
static struct clone_args flip_args;
static volatile int flip_stop;

static void *flipper(void *arg) {
	(void)arg;
	const uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
	while (!flip_stop) {
		__atomic_store_n(&flip_args.flags, thread, __ATOMIC_RELAXED);
		__atomic_store_n(&flip_args.flags, 0, __ATOMIC_RELAXED);
	}
	return NULL;
}

int64_t clone3_flip(void) {
	pthread_t t;
	memset(&flip_args, 0, sizeof flip_args);
	flip_args.exit_signal = SIGCHLD;
	if (pthread_create(&t, NULL, flipper, NULL) != 0)
		return -1;
	long r = 0;
	for (int i = 0; i < 1000; i++) {
		r = syscall(SYS_clone3, &flip_args, sizeof flip_args);
		if (r == 0)
			_exit(0); // a process was made: it leaves at once
		if (r > 0)
			break;
	}
	flip_stop = 1;
	pthread_join(t, NULL);
	return ret(r);
}

// spawn_thread: pthread_create and join still work (clone3, then clone).
int64_t spawn_thread(void) {
	pthread_t t;
	void *r;
	int e = pthread_create(&t, NULL, thread_main, (void *)42);
	if (e != 0)
		return -e;
	pthread_join(t, &r);
	return (int64_t)(intptr_t)r;
}

// block_all blocks every signal of the calling thread (SIGSYS among
// them), as glibc's posix_spawn does around its clone.
static void block_all(void) {
	sigset_t s;
	sigfillset(&s);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
}

// do_system: system(3), which runs /bin/sh through posix_spawn.
int64_t do_system(const char *cmd) { return system(cmd); }

// spawn_blocked: posix_spawn of /bin/true with every signal blocked.
int64_t spawn_blocked(void) {
	char *argv[] = {"true", NULL};
	pid_t pid;
	block_all();
	return -posix_spawn(&pid, "/bin/true", NULL, NULL, argv, NULL);
}

// fork_all_blocked: fork with every signal blocked.
int64_t fork_all_blocked(void) {
	block_all();
	pid_t r = fork();
	if (r == 0)
		_exit(0);
	return ret(r);
}

// memfd_sigsys_blocked: memfd_create (forbidden after the load, by the
// run filter, which traps) with SIGSYS blocked.
int64_t memfd_sigsys_blocked(void) {
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	return ret(syscall(SYS_memfd_create, "blocked", 0));
}

// Calls only the run phase forbids (isolate/phase.go), each made with
// every signal blocked (SIG_SETMASK of the full set): the kernel cannot
// deliver a trap's SIGSYS, only the host's listener can name them.
static void mask_all(void) {
	sigset_t s;
	sigfillset(&s);
	sigprocmask(SIG_SETMASK, &s, NULL);
}

// openat_blocked reads the first bytes of path into buf.
int64_t openat_blocked(const char *path, char *buf, int64_t n) {
	mask_all();
	int fd = openat(AT_FDCWD, path, O_RDONLY);
	if (fd < 0)
		return -errno;
	return ret(read(fd, buf, (size_t)n));
}

int64_t memfd_blocked(void) {
	mask_all();
	return ret(syscall(SYS_memfd_create, "blocked", 0));
}

int64_t setuid_blocked(void) {
	mask_all();
	return ret(syscall(SYS_setuid, 0));
}

int64_t setresuid_blocked(void) {
	mask_all();
	return ret(syscall(SYS_setresuid, 0, 0, 0));
}

int64_t pdeathsig_blocked(void) {
	mask_all();
	return ret(syscall(SYS_prctl, PR_SET_PDEATHSIG, 0L, 0L, 0L, 0L));
}

// openat_thread_blocked: openat_blocked from a second thread.
struct open_args {
	const char *path;
	char *buf;
	int64_t n, r;
};
static void *open_thread(void *arg) {
	struct open_args *a = arg;
	a->r = openat_blocked(a->path, a->buf, a->n);
	return NULL;
}
int64_t openat_thread_blocked(const char *path, char *buf, int64_t n) {
	struct open_args a = {path, buf, n, 0};
	pthread_t t;
	int e = pthread_create(&t, NULL, open_thread, &a);
	if (e != 0)
		return -e;
	pthread_join(t, NULL);
	return a.r;
}

// marker_then_open makes runplug's run-phase marker (a prctl option no
// kernel has, isolate/phase.go) as the child's own code does before
// plugin code, hoping to be let through again, then reads path.
int64_t marker_then_open(const char *path, char *buf, int64_t n) {
	mask_all();
	long m = syscall(SYS_prctl, 0x726e7068L, 0L, 0L, 0L, 0L);
	int fd = openat(AT_FDCWD, path, O_RDONLY);
	if (fd < 0)
		return m < 0 ? -errno : -1000000 - m;
	return ret(read(fd, buf, (size_t)n));
}

// rdwr_open opens path O_RDWR from an address with none of the write
// flags' bits (a multiple of 16 MiB): a filter that mistook the flags
// for open(2)'s and the address for its flags let it through.
int64_t rdwr_open(const char *path) {
	char *at = MAP_FAILED;
	for (uintptr_t a = 1UL << 28; at == MAP_FAILED && a < 1UL << 32; a += 1UL << 24) {
		at = mmap((void *)a, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (at != MAP_FAILED && at != (char *)a) {
			munmap(at, 4096); // an old kernel took the address as a hint
			at = MAP_FAILED;
		}
	}
	if (at == MAP_FAILED)
		return -1000;
	strcpy(at, path);
	int fd = openat(AT_FDCWD, at, O_RDWR);
	if (fd < 0)
		return -errno;
	return ret(write(fd, "written by the child", 20));
}

// exec_sigsys_blocked: execve of /bin/true with SIGSYS blocked.
int64_t exec_sigsys_blocked(void) {
	char *argv[] = {"true", NULL};
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	return ret(execv("/bin/true", argv));
}

// A thread in a new mount namespace (CLONE_THREAD with CLONE_NEWNS).
int64_t clone_newns_thread(void) {
	return ret(syscall(SYS_clone, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWNS, 0, 0, 0, 0));
}

// fork_sigsys_blocked forks with SIGSYS blocked, as system() does.
int64_t fork_sigsys_blocked(void) {
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	pid_t r = fork();
	if (r == 0)
		_exit(0);
	return ret(r);
}

// The classics: a process, a socket, a program, a mount, a namespace,
// ptrace and another process's memory.
int64_t do_fork(void) { return ret(fork()); }
int64_t do_socket(void) { return ret(socket(AF_INET, SOCK_STREAM, 0)); }
int64_t do_exec(void) {
	char *argv[] = {"true", NULL};
	return ret(execv("/bin/true", argv));
}
int64_t do_mount(void) { return ret(syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0)); }
int64_t do_unshare(void) { return ret(syscall(SYS_unshare, CLONE_NEWUSER)); }
int64_t ptrace_parent(void) { return ret(syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, getppid(), 0, 0)); }
int64_t vm_read_parent(void) {
	char b[8];
	struct iovec l = {b, 8}, r = {(void *)0x400000, 8};
	return ret(syscall(SYS_process_vm_readv, getppid(), &l, 1, &r, 1, 0));
}
int64_t setuid_root(void) { return ret(syscall(SYS_setresuid, 0, 0, 0)); }
