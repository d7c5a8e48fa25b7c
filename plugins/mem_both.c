// mem_both: a plugin that works on memory its host allocated in the
// plugin's address space with Plugin.Alloc and CString (the host's C
// heap in process, the child's isolated), fills an out-parameter, hands
// back a string it allocated with malloc for the host to free with
// Plugin.Free, and keeps a host-allocated string past the call, freeing
// it later with free: the host's allocations and the plugin's are one
// heap, wherever the plugin runs.
//
// Build: cc -shared -fPIC -O2 -Wall -o mem_both.so mem_both.c

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rect {
	int32_t x, y, w, h;
	char label[16];
};

struct stats {
	int64_t area;
	int64_t perimeter;
	char *summary; // malloc'd here, freed by the host
};

// rect_stats fills *out from *in: 0, or -1 for NULL, -2 when malloc fails.
int64_t rect_stats(const struct rect *in, struct stats *out) {
	if (!in || !out)
		return -1;
	out->area = (int64_t)in->w * in->h;
	out->perimeter = 2 * ((int64_t)in->w + in->h);
	char buf[96];
	snprintf(buf, sizeof buf, "%.*s at (%d,%d) %dx%d", (int)strnlen(in->label, sizeof in->label),
		in->label, in->x, in->y, in->w, in->h);
	out->summary = strdup(buf);
	return out->summary ? 0 : -2;
}

static char *kept;

// keep_name takes ownership of s (the host's CString): it frees it, with
// free, when another replaces it or drop_name is called.
void keep_name(char *s) {
	free(kept);
	kept = s;
}

// kept_name returns the kept string with its letters upper-cased in
// place (so the plugin has used it after the call that gave it).
const char *kept_name(void) {
	for (char *c = kept; c && *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c -= 'a' - 'A';
	return kept ? kept : "";
}

void drop_name(void) {
	free(kept);
	kept = NULL;
}

// no_nul returns n bytes of 'A' with no NUL after them (malloc'd, never
// freed): a string a host must not read without a bound.
const char *no_nul(int64_t n) {
	char *p = malloc(n);
	if (p)
		memset(p, 'A', n);
	return p;
}
