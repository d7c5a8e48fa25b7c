// ctor_log.h: shared by the ctor_* plugins. ctor_log is a buffer the host
// supplies (Options.HostSymbols in the loader's tests, an exported global
// of the executable under ld.so); each event appends "NAME;" to it.
#include <stddef.h>

extern char ctor_log[512];

static void ctor_note(const char *what) {
	size_t n = 0;
	while (n < sizeof ctor_log - 1 && ctor_log[n])
		n++;
	for (const char *p = what; *p && n < sizeof ctor_log - 2; p++)
		ctor_log[n++] = *p;
	ctor_log[n++] = ';';
	ctor_log[n] = 0;
}
