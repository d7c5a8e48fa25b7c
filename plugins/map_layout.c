// map_layout: a layout that exercises the mapper's corner cases. Linked
// with a 64 KiB maximum page size, its four PT_LOAD segments (read-only
// headers, code, read-only data, data) sit 64 KiB apart in memory but are
// packed in the file, so the image has PROT_NONE gaps between segments;
// the data segment's file part ends inside a page (the rest of that page
// must be zeroed) and its .bss spans many pages beyond it (anonymous zero
// pages); RELRO (a pointer table) covers the start of the data segment.
//
// Build: cc -shared -fPIC -O2 -Wall -Wl,-z,max-page-size=0x10000 -Wl,-z,relro -o map_layout.so map_layout.c

#include <stddef.h>
#include <stdint.h>

// Read-only data larger than one page.
const char layout_text[6000] = "map_layout read-only data";

// Initialised data: the file-backed part of the data segment.
int64_t layout_data[4] = {1, 2, 3, 4};

// RELRO: a table of pointers, relocated then made read-only.
const int64_t *const layout_ptrs[2] = {&layout_data[0], &layout_data[3]};

// .bss spanning several pages (and not a multiple of any page size).
uint8_t layout_bss[20603];

int64_t layout_sum(void) {
	int64_t s = 0;
	for (size_t i = 0; i < 4; i++)
		s += layout_data[i] + layout_bss[i * 5000];
	return s + *layout_ptrs[1] + layout_text[0];
}
