// hostile_ctor: an isolated plugin whose constructor attacks (isolate's
// TestHostileConstructor). The test patches the attack into the image
// and loads it with LoadBytes: attack[] reads "ATTACK:" and a letter, then
// a path:
//   r PATH  read the file into secret[] (a constructor stealing a file)
//   d PATH  list the directory (opendir, readdir) into secret[]
//   m       write 64 MiB to a memfd
//   k       signal the host (kill of the parent)
//   b PATH  read the file with every signal blocked
//   p PATH  make runplug's run-phase marker (isolate/phase.go), then read
//   t       with every signal blocked, calls allowed in both phases
// stolen() returns secret[]'s length: what a later call could hand back.
//
// Build: cc -shared -fPIC -O2 -Wall -o hostile_ctor.so hostile_ctor.c

#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

volatile char attack[256] = "ATTACK:-";
static char secret[4096];
static int64_t got;

int64_t stolen(void) { return got; }
const char *secret_bytes(void) { return secret; }

// steal reads the file at path into secret[].
static void steal(const char *path) {
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, secret, sizeof secret);
		got = n > 0 ? n : 0;
	}
}

__attribute__((constructor)) static void hostile(void) {
	char a[256];
	for (int i = 0; i < 256; i++)
		a[i] = attack[i];
	a[255] = 0;
	const char *path = a + 9; // "ATTACK:x " then the path
	switch (a[7]) {
	case 'r': {
		steal(path);
		break;
	}
	case 'd': {
		DIR *d = opendir(path);
		if (d != NULL) {
			struct dirent *e;
			while ((e = readdir(d)) != NULL && got + 256 < (int64_t)sizeof secret)
				got += strlen(strcpy(secret + got, e->d_name)) + 1;
			closedir(d);
		}
		break;
	}
	case 'm': {
		static char chunk[1 << 20];
		int fd = (int)syscall(SYS_memfd_create, "flood", 0);
		for (int i = 0; fd >= 0 && i < 64; i++)
			got += write(fd, chunk, sizeof chunk);
		break;
	}
	case 'k':
		kill(getppid(), SIGKILL);
		break;
	case 'b': {
		sigset_t all, old;
		sigfillset(&all);
		sigprocmask(SIG_SETMASK, &all, &old);
		steal(path);
		sigprocmask(SIG_SETMASK, &old, NULL);
		break;
	}
	case 'p': {
		syscall(SYS_prctl, 0x726e7068L, 0L, 0L, 0L, 0L);
		steal(path);
		break;
	}
	case 't': {
		sigset_t all, old;
		sigfillset(&all);
		sigprocmask(SIG_SETMASK, &all, &old);
		void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED && getpid() > 0 && munmap(m, 4096) == 0)
			got = 1;
		sigprocmask(SIG_SETMASK, &old, NULL);
		break;
	}
	}
}
