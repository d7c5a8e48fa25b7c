// state_partial: a hostile state region of 100 bytes, not whole pages
// (the rest of its page could hold other data): runplug refuses the
// object (loader.ErrStateLayout).
//
// Build: cc -shared -fPIC -O2 -Wall -o state_partial.so state_partial.c

#include <stdint.h>

#include "runplug.h"

__attribute__((section(".runplug_state"), aligned(RUNPLUG_STATE_PAGE), used)) unsigned char runplug_state[100];
__attribute__((used)) const struct runplug_state_desc runplug_state_desc = {RUNPLUG_STATE_MAGIC, 1, 100};
int64_t partial_neighbour = 5;

int64_t partial_get(void) { return runplug_state[0] + partial_neighbour; }
