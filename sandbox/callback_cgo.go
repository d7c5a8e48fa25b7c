//go:build linux && amd64

package sandbox

// The cgo half of host callbacks: the exported Go dispatcher that
// callback.c calls, and the address of the common entry. A file with
// //export may only declare C functions in its preamble, so the C code
// lives in callback.c and callback_amd64.S.

/*
#include <stdint.h>
#include "sandbox.h"
uint64_t rp_cb_entry_addr(void);
uint64_t rp_cbfix_int_addr(void);
uint64_t rp_cbfix_float_addr(void);
*/
import "C"

import "unsafe"

// rpGoCallback runs callback id with the argument registers at a (a struct
// rp_args on the C stack of rp_cb_entry, valid for this call only) and
// writes the result registers back into it. It returns 0, or an abort code
// for rp_abort_current when the callback failed inside a protected call.
//
//export rpGoCallback
func rpGoCallback(id C.uint32_t, a *C.struct_rp_args, inCall C.int) C.int64_t {
	return C.int64_t(dispatch(uint32(id), (*Args)(unsafe.Pointer(a)), inCall != 0))
}

// callbackEntry returns the address of rp_cb_entry, the common target of
// every thunk.
func callbackEntry() uintptr { return uintptr(C.rp_cb_entry_addr()) }

// fixtureCallbackInt and fixtureCallbackFloat return C functions
// f(fn, a, b, c, d, e, x0, ..., x7) that call fn(a, b, c, d, e, 6, x0, ...,
// x7) and return its rax or its xmm0: native callers for the tests.
func fixtureCallbackInt() uintptr   { return uintptr(C.rp_cbfix_int_addr()) }
func fixtureCallbackFloat() uintptr { return uintptr(C.rp_cbfix_float_addr()) }
