//go:build linux && (amd64 || arm64) && cgo

package isolate

// This file lays Go structs over the memory both processes share (a
// memfd mapped MAP_SHARED in each) and waits on its futex words. It must
// use unsafe: the structs live in a mapping, not the Go heap (the garbage
// collector never sees them; nothing in them points to Go memory), and
// the futex system call takes their addresses. The invariant that keeps
// this right: every offset is fixed by the layout constants below, the
// mapping outlives every pointer into it (a proc unmaps only after its
// calls are done), and every value the other process wrote is checked
// before use (lengths and offsets against the mapping's bounds), because
// that process may be hostile.

import (
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/loader"
)

// Layout of the shared memory: a header page, the config area (the
// host's request, then the child's reply), then the channels.
const (
	magic    = 0x72706973 // "rpis"
	hdrSize  = 4096
	slotHdr  = 4096 // a channel's header page; its data area follows
	maxSlots = 64
	// How long a waiting side spins (atomic loads, sched_yield every
	// yieldEvery) before it sleeps on the futex: the host awaiting a
	// call's result, the child awaiting a host function's result, and
	// the child's serving thread awaiting the next request after a call
	// (the host reuses the channel released last, see acquire, so a
	// caller in a loop finds its serving thread awake; docs/PERFORMANCE.md,
	// Isolated, has the figures).
	waitSpin   = 50 * time.Microsecond
	yieldEvery = 16
	spinCheck  = 8 // loads between clock reads
)

// sysRecord is where the child's SIGSYS handler (sigsys_amd64.s) writes
// the forbidden system call; the offsets are the handler's.
type sysRecord struct {
	Nr   int32  // +0: si_syscall
	Set  uint32 // +4: 1 once written
	PC   uint64 // +8: si_call_addr
	Arch uint32 // +16: si_arch
	_    uint32
}

// header is the first page.
type header struct {
	magic     uint32
	state     uint32 // futex: stStarting, stReady, stFailed (child writes)
	nslots    uint32
	slotSize  uint32 // slotHdr + data size
	cfgOff    uint32
	cfgLen    uint32 // the host's request (JSON)
	replyOff  uint32
	replyLen  uint32 // the child's reply (JSON)
	slotsOff  uint32
	_         uint32
	childBase uint64 // the mapping's address in the child
	sys       sysRecord
	goWord    uint32 // futex: the host sets 1 once the request is written
	// active is the number of channels the child serves (futex: the
	// host raises it, up to nslots, for calls nested deeper than the
	// pool; the child starts a serving thread for each new one).
	active uint32
	// listen is the handshake of the child's seccomp listener (futex:
	// listen*, listen.go); listenFD is the listener's descriptor in the
	// child, or the kernel's errno when it refused one.
	listen   uint32
	listenFD int32
}

// FUTEX_WAIT and FUTEX_WAKE (not the _PRIVATE forms: the words are
// shared between processes).
const (
	futexWaitOp = 0
	futexWakeOp = 1
)

const (
	stStarting = 0
	stReady    = 1
	stFailed   = 2
	stWaiting  = 3 // a spare child, its runtime up, waiting for goWord
)

// bufDesc is a buffer of a call in a channel's data area.
type bufDesc struct {
	slot, off, n, out uint32
}

// strDesc is a C string argument of a host call in the data area.
type strDesc struct {
	off, n uint32
}

// chanHdr is a channel's header page. The two futex words sit on cache
// lines of their own.
type chanHdr struct {
	toChild      uint32 // bumped by the host when a message for the child is ready
	childWaiting uint32
	_            [56]byte
	toHost       uint32 // bumped by the child when a message for the host is ready
	hostWaiting  uint32
	_            [56]byte

	kind   uint32 // op*
	handle uint32 // symbol handle (calls), host function index (host calls)
	nints  uint32 // integer arguments of opCallInts
	status uint32 // reply status: st*
	code   uint32 // reply: codeCallbackFreed of a statusHostPanic
	nbufs  uint32
	msgLen uint32 // reply: bytes of text at the start of the data area
	inLen  uint32 // request: bytes of text at the start of the data area
	ints   [6]uint64
	floats [8]float64
	resInt uint64
	resF   float64
	// a fault report (statusFault)
	sig   int32
	fcode int32
	addr  uint64
	pc    uint64
	// a lookup's symbol
	symAddr uint64
	symSize uint64
	symFunc uint32
	_       uint32
	bufs    [6]bufDesc
	strs    [6]strDesc

	// A general call (opCallFrame): its nstack stack words start the
	// data area, its ndesc buffer descriptors (bufDesc, slot being the
	// frame word) are at descOff, a result in memory goes at sretOff.
	// The result registers are resInt (rax), resRDX, resX0 and resX1
	// (xmm0 and xmm1's bits).
	nstack   uint32
	nvec     uint32
	ndesc    uint32
	descOff  uint32
	sretOff  uint32
	sretSize uint32
	resRDX   uint64
	resX0    uint64
	resX1    uint64
	// opNewCallback: the integer registers that carry C strings, and
	// whether the entry takes the general form (then nstack is the
	// number of stack argument words and sretSize the bytes of a
	// MEMORY-class result). An opCallback of the general form has its
	// stack arguments' copy at descOff and the result's area at sretOff,
	// both in the part of the data area kept for host calls.
	cbStrs  uint32
	cbFrame uint32
	// foreign is set on a host call or callback that a thread other than
	// the channel's serving thread sent (one of the plugin's own, on a
	// channel borrowed during a call): a panic there ends no call.
	foreign uint32
	_       uint32
	// A general call on arm64 (AAPCS64): x6 and x7 (frame words 6 and 7,
	// before pcall.GatherVec), and the low halves of v2 and v3 of its
	// result (an HFA of three or four members); unused on amd64.
	more   [2]uint64
	resV23 [2]uint64
	// A general call with long doubles in q registers (arm64): quad set,
	// the high halves of v0-v7 in, and of v0-v3 out.
	quad   uint32
	_      uint32
	vhi    [8]uint64
	resVHi [4]uint64
}

// Message kinds.
const (
	opCall     = 1 // host -> child: call handle with ints/floats and bufs
	opCallInts = 2 // host -> child: call handle with nints integers
	opLookup   = 3 // host -> child: look up the name and version in data
	opClose    = 4 // host -> child: run the destructors and exit
	opHostRet  = 5 // host -> child: a host call's result
	opResult   = 6 // child -> host: the reply to a call, lookup or close
	opHostCall = 7 // child -> host: call host function handle

	// General calls and callbacks (frame.go, child_frame.go).
	opCallFrame    = 8  // host -> child: a general call of handle, laid out in the data area
	opNewCallback  = 9  // host -> child: make an entry for callback handle (name in data); reply symAddr
	opFreeCallback = 10 // host -> child: drop callback handle's entry
	opUpcall       = 11 // host -> child: this channel now carries the calls of threads that serve no channel
	opCallback     = 12 // child -> host: call callback handle

	// The plugin's memory (mem.go).
	opMemRead  = 13 // host -> child: copy ints[1] bytes at ints[0] into data (to the first NUL when ints[2]); reply resInt = bytes
	opMemWrite = 14 // host -> child: copy ints[1] bytes of data to ints[0]
	opAlloc    = 15 // host -> child: malloc(ints[0]); reply resInt = the address
	opFree     = 16 // host -> child: free(ints[0])
	opSymbols  = 17 // host -> child: the plugin's symbols from index ints[0]; reply resInt = how many in all, resRDX = how many in data
)

// Reply statuses.
const (
	statusOK        = 0
	statusFault     = 1 // a *sandbox.FaultError; text: plugin, symbol, object, where
	statusHostPanic = 2 // text: function name, panic value
	statusError     = 3 // data: the error, as errwire.go encodes it
	statusNeedFrame = 4 // opHostRet: send the call again in the general form (nstack, sretSize)
)

func hdrAt(mem []byte) *header { return (*header)(unsafe.Pointer(&mem[0])) }

func chanAt(mem []byte, off int) *chanHdr { return (*chanHdr)(unsafe.Pointer(&mem[off])) }

// addrOf is the address of b's first byte (b is part of a mapping).
func addrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(&b[0]))) }

// post bumps *word and wakes the other side if it sleeps on it. The
// atomic add is a full barrier (LOCK XADD), so the load of *waiting
// cannot pass it: either the sleeper sees the new value before it sleeps
// or we see its flag.
func post(word, waiting *uint32) {
	atomic.AddUint32(word, 1)
	if atomic.LoadUint32(waiting) != 0 {
		futexWake(word)
	}
}

// waitChange waits until *word differs from old and returns it: a
// spin bounded in time (spin), then the futex. stop is checked after
// every wake-up and ends the wait with false (the host's view of a dead
// child). The spin gives the CPU away (sched_yield) every yieldEvery
// loads: on a machine with fewer free CPUs than runnable threads the
// other process may be waiting for this very CPU. sched_yield never
// blocks, so it is a raw system call (no entersyscall/exitsyscall, the P
// stays).
func waitChange(word, waiting *uint32, old uint32, stop *atomic.Bool, spin time.Duration) (uint32, bool) {
	var t0 time.Time
	for i := 1; spin > 0; i++ {
		if v := atomic.LoadUint32(word); v != old {
			return v, true
		}
		if i%yieldEvery == 0 {
			unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
		if i%spinCheck == 0 {
			if t0.IsZero() {
				t0 = time.Now()
			} else if time.Since(t0) > spin {
				break
			}
		}
	}
	for {
		atomic.StoreUint32(waiting, 1) // XCHG: a full barrier before the load
		v := atomic.LoadUint32(word)
		if v != old {
			atomic.StoreUint32(waiting, 0)
			return v, true
		}
		if stop != nil && stop.Load() {
			atomic.StoreUint32(waiting, 0)
			return v, false
		}
		futexWait(word, old)
	}
}

// futexWait sleeps while *word == val (shared futex: the word is in a
// MAP_SHARED mapping and the other waker is another process).
func futexWait(word *uint32, val uint32) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWaitOp, uintptr(val), 0, 0, 0)
}

// futexWake wakes the sleepers on word. FUTEX_WAKE never blocks, so it is
// a raw system call: no entersyscall/exitsyscall on the path of every
// call.
func futexWake(word *uint32) {
	unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWakeOp, 1<<30, 0, 0, 0)
}

// futexWaitTimeout is futexWait for at most d.
func futexWaitTimeout(word *uint32, val uint32, d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(word)), futexWaitOp, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// wordsAt returns the first n 8-byte words of b (8-aligned, at least 8n
// bytes: the caller checked).
func wordsAt(b []byte, n int) []uint64 {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n)
}

// descsAt returns the first n buffer descriptors in b (4-aligned, at
// least 16n bytes: the caller checked).
func descsAt(b []byte, n int) []bufDesc {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*bufDesc)(unsafe.Pointer(&b[0])), n)
}

// bytesAddr is b's first byte as a pointer (b is part of the mapping).
func bytesAddr(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

// copyFrom copies len(dst) bytes at addr (memory of this process the
// caller vouches for: a native caller's stack arguments or result
// buffer) into dst.
func copyFrom(dst []byte, addr uintptr) {
	if len(dst) > 0 {
		copy(dst, unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), len(dst)))
	}
}

// copyTo copies src to addr (see copyFrom).
func copyTo(addr uintptr, src []byte) {
	if len(src) > 0 {
		copy(unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), len(src)), src)
	}
}

// copyNative copies between the child's memory at addr and buf (into buf
// when read, else out of it; a read stops after the first NUL when toNUL)
// and returns the bytes copied. An address that faults is an error
// wrapping loader.ErrBadAddress: the host asked, and the child goes on.
func copyNative(buf []byte, addr uint64, read, toNUL bool) (n int, err error) {
	op := "write"
	if read {
		op = "read"
	}
	if addr < 0x1000 {
		return 0, fmt.Errorf("isolate: %s %d bytes at %#x: %w", op, len(buf), addr, loader.ErrBadAddress)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("isolate: %s %d bytes at %#x: %v: %w", op, len(buf), addr, v, loader.ErrBadAddress)
		}
	}()
	mem := unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&addr))), len(buf))
	switch {
	case !read:
		copy(mem, buf)
	case toNUL:
		for i := range buf {
			if buf[i] = mem[i]; buf[i] == 0 {
				return i + 1, nil
			}
		}
	default:
		copy(buf, mem)
	}
	return len(buf), nil
}
