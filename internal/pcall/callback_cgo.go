//go:build linux && (amd64 || arm64)

package pcall

// The cgo half of host callbacks: the frame layout the entry shares with
// dispatch, dispatch's address for the entry (which reaches Go without an
// //export wrapper: it calls crosscall2 with dispatch itself), the address
// of the entries, the thunk pages, and the benchmarks' export-recover
// baseline. A file with //export may only declare C functions in its
// preamble, so the C code lives in callback.c and callback_amd64.S (or
// callback_arm64.S); each architecture's thunk is in thunk_*.go.

/*
#include <stdint.h>
#include "callback.h"
void rp_cb_init(uintptr_t gofn);
uint64_t rp_cb_entry_addr(void);
uint64_t rp_cb_entry_ints_addr(int n);
uint64_t rp_cbfix_int_addr(void);
uint64_t rp_cbfix_float_addr(void);
int64_t rp_cbfix_loop(uint64_t fn, int64_t n);
double rp_cbfix_pair(uint64_t fn, int64_t a, double x);
void *rp_cbfix_context_addr(void);
void rp_cbfix_context_counts(int64_t *n, int64_t *r);
void rp_cb_clear_cache(uintptr_t start, uintptr_t end);
uint64_t rp_cb_static_thunks(uint64_t **cells);
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// CallbacksSupported reports whether this build has host callbacks
// (NewCallback): linux/amd64 or linux/arm64 with cgo.
const CallbacksSupported = true

// The layout cbFrame shares with struct rp_cbframe (a mismatch does not
// compile).
const (
	_ = uint(unsafe.Offsetof(cbFrame{}.more) - C.RP_CB_MORE)
	_ = uint(C.RP_CB_MORE - unsafe.Offsetof(cbFrame{}.more))
	_ = uint(unsafe.Offsetof(cbFrame{}.id) - C.RP_CB_ID)
	_ = uint(C.RP_CB_ID - unsafe.Offsetof(cbFrame{}.id))
	_ = uint(unsafe.Offsetof(cbFrame{}.inCall) - C.RP_CB_INCALL)
	_ = uint(C.RP_CB_INCALL - unsafe.Offsetof(cbFrame{}.inCall))
	_ = uint(unsafe.Offsetof(cbFrame{}.done) - C.RP_CB_DONE)
	_ = uint(C.RP_CB_DONE - unsafe.Offsetof(cbFrame{}.done))
	_ = uint(unsafe.Offsetof(cbFrame{}.code) - C.RP_CB_CODE)
	_ = uint(C.RP_CB_CODE - unsafe.Offsetof(cbFrame{}.code))
	_ = uint(unsafe.Sizeof(cbFrame{}) - C.RP_CB_SIZE)
	_ = uint(C.RP_CB_SIZE - unsafe.Sizeof(cbFrame{}))
)

// cbInit gives callback.c dispatch's address and has runtime/cgo finish
// its setup for callbacks; mapThunkPage does it before the first thunk
// exists, so a process that never makes a callback never pays for it.
var cbInit = sync.OnceFunc(func() {
	fn := dispatch
	C.rp_cb_init(C.uintptr_t(**(**uintptr)(unsafe.Pointer(&fn))))
})

// cbStackArgs is where the caller's stack arguments start relative to the
// frame a callback entry passes: that frame is the bottom of the entry's
// stack frame, above which lie the saved rbp and the return address
// (callback_amd64.S), or the frame record x29, x30 (callback_arm64.S).
const cbStackArgs = C.RP_CB_SIZE + 8 + 8

// stackArgs returns the address of the stack arguments of the call whose
// argument registers a entry saved in a.
func stackArgs(a *Args) uintptr { return uintptr(unsafe.Pointer(a)) + cbStackArgs }

// callbackEntry returns the address of rp_cb_entry, the common target of
// every thunk.
func callbackEntry() uintptr { return uintptr(C.rp_cb_entry_addr()) }

// callbackEntryFor returns the entry a thunk jumps to: rp_cb_entry, which
// saves every argument register, for regs < 0, else rp_cb_entry_iN (N =
// regs, 0 to 6), which saves only the first N integer ones.
func callbackEntryFor(regs int) uintptr {
	if regs < 0 || regs > 6 {
		return callbackEntry()
	}
	return uintptr(C.rp_cb_entry_ints_addr(C.int(regs)))
}

// mapThunkPage maps a page of n thunks for the ids first..first+n-1,
// followed by a page of n entry cells, and returns the address of the
// first thunk and the cells. Thunk k (encodeThunk, thunk_*.go) loads its
// id and jumps to the entry in cell k (8 bytes), set when a callback
// takes the slot. Each part takes whole system pages. The thunk page is
// filled while read-write, its instruction cache made coherent (a no-op
// on x86-64), then made read-and-execute for good: it is never writable
// and executable at once, and never unmapped. The cells stay read-write
// data. Page 0 is, where the binary has one, the page built into it
// (staticThunkPage), which maps nothing.
func mapThunkPage(first, n uint32) (uintptr, []uint64, error) {
	cbInit()
	if base, cells := staticThunkPage(); first == 0 && base != 0 && uint32(len(cells)) == n {
		entry := uint64(callbackEntry())
		for k := range cells {
			cells[k] = entry
		}
		return base, cells, nil
	}
	page := os.Getpagesize()
	code := int(n) * thunkSize
	code = (code + page - 1) &^ (page - 1)
	cellsLen := (int(n)*8 + page - 1) &^ (page - 1)
	mem, err := unix.Mmap(-1, 0, code+cellsLen, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0, nil, fmt.Errorf("map thunk page: %w", err)
	}
	entry := uint64(callbackEntry())
	for k := uint32(0); k < n; k++ {
		cell := code + int(k)*8
		encodeThunk(mem[k*thunkSize:(k+1)*thunkSize], first+k, cell-int(k)*thunkSize)
		binary.LittleEndian.PutUint64(mem[cell:], entry)
	}
	start := uintptr(unsafe.Pointer(&mem[0]))
	C.rp_cb_clear_cache(C.uintptr_t(start), C.uintptr_t(start+uintptr(code)))
	if err := unix.Mprotect(mem[:code], unix.PROT_READ|unix.PROT_EXEC); err != nil {
		unix.Munmap(mem)
		return 0, nil, fmt.Errorf("protect thunk page: %w", err)
	}
	cells := unsafe.Slice((*uint64)(unsafe.Pointer(&mem[code])), n)
	return start, cells, nil
}

// staticThunkPage returns the first thunk page built into the binary and
// its cells (callback_amd64.S: ids 0 to 127), or 0 and nil where there is
// none (arm64 maps every page). The cells are C data, outside the Go heap.
func staticThunkPage() (uintptr, []uint64) {
	var cells *C.uint64_t
	base := uintptr(C.rp_cb_static_thunks(&cells))
	if base == 0 {
		return 0, nil
	}
	return base, unsafe.Slice((*uint64)(unsafe.Pointer(cells)), 128)
}

// fixtureCallbackInt and fixtureCallbackFloat return C functions
// f(fn, a, b, c, d, e, x0, ..., x7) that call fn(a, b, c, d, e, 6, x0, ...,
// x7) and return its rax or its xmm0 (x0 or d0): native callers for the
// tests.
func fixtureCallbackInt() uintptr   { return uintptr(C.rp_cbfix_int_addr()) }
func fixtureCallbackFloat() uintptr { return uintptr(C.rp_cbfix_float_addr()) }

// fixtureCallbackLoop calls the native function fn(i, 1) for i in [0, n)
// from one plain cgo call (no protected call: the thread is a Go thread
// outside any call) and returns the sum of the results.
func fixtureCallbackLoop(fn uintptr, n int64) int64 {
	return int64(C.rp_cbfix_loop(C.uint64_t(fn), C.int64_t(n)))
}

// fixtureCallbackPair calls fn(a, x) as a C function returning a struct
// of two int64 (rax:rdx), then of two doubles (xmm0:xmm1), and returns
// the sum of the four.
func fixtureCallbackPair(fn uintptr, a int64, x float64) float64 {
	return float64(C.rp_cbfix_pair(C.uint64_t(fn), C.int64_t(a), C.double(x)))
}

// fixtureContextFunc returns a cgo traceback context function (C) that
// counts the contexts it is asked for and released (fixtureContextCounts).
func fixtureContextFunc() unsafe.Pointer { return C.rp_cbfix_context_addr() }

// fixtureContextCounts returns how many contexts fixtureContextFunc gave
// and how many it was asked to release.
func fixtureContextCounts() (made, released int64) {
	var n, r C.int64_t
	C.rp_cbfix_context_counts(&n, &r)
	return int64(n), int64(r)
}
