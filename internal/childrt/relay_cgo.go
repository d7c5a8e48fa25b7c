//go:build linux && (amd64 || arm64) && cgo

package childrt

/*
#cgo CFLAGS: -O2 -Wall -fno-omit-frame-pointer -I${SRCDIR}/../pcall
#include "relay.h"
*/
import "C"

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/pcall"
)

// The futex operations on the relay's words (FUTEX_WAIT and FUTEX_WAKE
// with FUTEX_PRIVATE_FLAG).
const (
	futexWaitPrivate = 0 | 128
	futexWakePrivate = 1 | 128
)

// RelayForeignThreads makes this process run the callbacks that native
// code calls outside any protected call (on a thread it created itself)
// on Go threads of their own, as many at once as there are relays (four
// at first; a caller finding all of them busy gets one more started, up
// to 64, and waits for one), instead of on the calling thread. It starts the relays (once per process) and returns
// when they serve. It is for a process whose package initialization never
// ends, as package isolate's child, which serves its plugin from an init
// function: Go runs code on a thread that C created only once main's
// initialization is done, so such a call would wait forever. The calling
// thread waits meanwhile; the callback runs as it would on that thread
// (a panic is recovered, the caller gets a zero result, the handler the
// panic).
func RelayForeignThreads() {
	relayOnce.Do(func() {
		for i := 0; i < C.RP_RELAY_FIRST; i++ {
			startRelay(i)
		}
		go growRelays()
		C.rp_relay_start()
	})
}

var relayOnce sync.Once

// startRelay starts relay i and returns once it serves (counted in
// rp_relay_started, with rp_relay_freed bumped for callers waiting for a
// slot).
func startRelay(i int) {
	var ready sync.WaitGroup
	ready.Add(1)
	go relay(&C.rp_relays[i], &ready)
	ready.Wait()
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&C.rp_relay_started)), uint32(i+1))
	freed := (*uint32)(unsafe.Pointer(&C.rp_relay_freed))
	atomic.AddUint32(freed, 1)
	unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(freed)), futexWakePrivate, 1<<30, 0, 0, 0)
}

// growRelays starts one more relay each time a caller found all started
// ones busy (rp_relay_want), up to RP_RELAY_SLOTS.
func growRelays() {
	want := (*uint32)(unsafe.Pointer(&C.rp_relay_want))
	seen := atomic.LoadUint32(want)
	for n := C.RP_RELAY_FIRST; n < C.RP_RELAY_SLOTS; {
		v := atomic.LoadUint32(want)
		if v == seen {
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(want)), futexWaitPrivate, uintptr(v), 0, 0, 0)
			continue
		}
		seen = v
		startRelay(n)
		n++
	}
}

// relay serves the hand-offs of relay.c to slot r forever, on a thread of
// its own.
func relay(r *C.struct_rp_relay, ready *sync.WaitGroup) {
	runtime.LockOSThread() // the thread stays the relay's
	req := (*uint32)(unsafe.Pointer(&r.req))
	done := (*uint32)(unsafe.Pointer(&r.done))
	seen := atomic.LoadUint32(req)
	ready.Done()
	for {
		for {
			v := atomic.LoadUint32(req)
			if v != seen {
				seen = v
				break
			}
			unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(req)), futexWaitPrivate, uintptr(v), 0, 0, 0)
		}
		pcall.DispatchFrame(unsafe.Pointer(r.f)) // as crosscall2 would on the caller's thread (incall 0)
		atomic.AddUint32(done, 1)
		unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(done)), futexWakePrivate, 1, 0, 0, 0)
	}
}
