// state_reloc: a hostile state region that holds a pointer (a relocation
// targets it): runplug refuses the object (loader.ErrStateLayout).
//
// Build: cc -shared -fPIC -O2 -Wall -o state_reloc.so state_reloc.c

#include <stdint.h>

#include "runplug.h"

int64_t anchor = 1;

__attribute__((section(".runplug_state"), aligned(RUNPLUG_STATE_PAGE), used)) int64_t *runplug_state[RUNPLUG_STATE_PAGE / 8] = {&anchor};
__attribute__((used)) const struct runplug_state_desc runplug_state_desc = {RUNPLUG_STATE_MAGIC, 1, 8};

int64_t reloc_get(void) { return *runplug_state[0]; }
