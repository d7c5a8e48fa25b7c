package pcall

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Host callbacks: a C-callable address per Go function.
//
// Each Callback owns one thunk slot in an executable page of generated
// code (callback_cgo.go): slot k of page p loads callback id p*perPage+k
// and jumps to the common entry, which saves the argument registers and
// calls the Go dispatcher on the calling thread. Pages are added as
// callbacks are made, so there is no fixed limit, and they are never
// unmapped or rewritten: an address native code kept stays executable
// code for the life of the process. The dispatcher finds an id's Callback
// in a table that grows with the pages and is read without a lock.
//
// A released slot is not handed out again at once: released ids queue up
// (oldest first) and one is reused only while more than cbQuarantine
// others wait behind it. Until then a call through the released address
// finds the released Callback, and ends in ErrCallbackFreed, not in
// another callback.

// cbQuarantine is how many released slots wait before the oldest is
// reused: a stale address keeps reaching the ErrCallbackFreed path until
// that many other callbacks were released after it.
const cbQuarantine = 1024

// thunkSize is the size of one thunk slot.
const thunkSize = 32

// thunksPerPage is the number of thunk slots in a page: a power of two,
// so that the dispatcher finds a slot with a shift, not a division.
func thunksPerPage() int { return 1 << cbPageShift }

// cbPageShift is log2 of the slots of a page: 4 KiB pages of 32-byte
// thunks (a larger system page holds several such pages).
const cbPageShift = 7

var (
	// ErrHostPanic is wrapped by a *HostPanicError: a Go function that
	// plugin code called through a Callback panicked.
	ErrHostPanic = errors.New("sandbox: host function panicked")
	// ErrCallbackFreed is the Value of the *HostPanicError of a call
	// through a Callback that was freed (a stale pointer kept by native
	// code; the loader prevents this for the plugins it links).
	ErrCallbackFreed = errors.New("sandbox: callback was freed")
)

// HostPanicError is the error of a protected call that ended because a Go
// function it called back into panicked. The panic was recovered in the
// dispatcher (it never unwinds through C frames) and the outer call was
// ended with rp_abort_current. It matches ErrHostPanic, and the panic
// value when that is an error. A Callback's panic handler receives one too
// for a panic outside any protected call (see Callback).
type HostPanicError struct {
	Func  string // the Callback's name
	Value any    // the value passed to panic (a runtime.Error for a nil dereference)
	Stack []byte // the panicking goroutine's stack (runtime/debug.Stack)
}

// Error formats e as "sandbox: host function NAME panicked: VALUE".
func (e *HostPanicError) Error() string {
	return fmt.Sprintf("sandbox: host function %s panicked: %v", e.Func, e.Value)
}

// Unwrap returns ErrHostPanic and, when the panic value is an error, it.
func (e *HostPanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrHostPanic, err}
	}
	return []error{ErrHostPanic}
}

// Callback is a C-callable entry point that runs a Go function on the
// calling thread: native code calls Addr as a function of up to six
// integer or pointer arguments and eight double arguments (SysV AMD64
// ABI), and gets back the Go function's Result in rax and xmm0. A
// function in frame form (NewCallbackFrame) also reads the arguments
// native code passed on the stack, and can return a struct in rax:rdx,
// xmm0:xmm1 or the caller's buffer. On arm64 (AAPCS64) the registers are
// x0-x5 and d0-d7 in Args, x6, x7 and x8 (the caller's buffer) in
// MoreRegs, and the results x0, x1 and d0-d3 (Int[0..1], Float[0..3]).
//
// Any thread may call it: one inside a protected call (Call, CallContext;
// the Go function then runs nested in that call), a Go thread in no
// protected call, or a thread the plugin created itself (cgo's runtime
// attaches such a thread to Go for the duration of the call).
//
// The Go function runs outside the fault protection of the plugin call it
// came from: its own faults (a nil dereference) are ordinary Go panics. A
// panic is always recovered by the dispatcher. When the callback was
// called inside a protected call, that call ends with a *HostPanicError
// and the Go function's caller, the native code, never resumes. Called
// outside any protected call there is nothing to end: the native caller
// gets a zero result (rax and xmm0 zero), and the *HostPanicError goes to
// the panic handler (SetPanicHandler) and is kept as Err. A call through
// a freed Callback is handled the same way, with ErrCallbackFreed as the
// panic value.
//
// A Callback costs one thunk slot (32 bytes of a shared executable page)
// and a table entry.
type Callback struct {
	name    string
	id      uint32
	addr    uintptr
	fn      *callbackFn // in its slot until Free
	freed   atomic.Bool
	handler atomic.Pointer[func(*HostPanicError)]
	err     atomic.Pointer[HostPanicError]
}

// NewCallback returns a Callback that runs fn. The *Args fn receives holds
// the caller's argument registers (a float32 argument is in the low 32
// bits of its Float slot; integers narrower than 64 bits have undefined
// upper bits) and is valid only during the call; fn's Result goes to rax
// and xmm0 (for a float32 result put its bits in the low 32 bits). A
// result in two registers of a class (a 16-byte struct: rax:rdx,
// xmm0:xmm1) puts its second eightbyte in a.Int[1] or a.Float[1], which
// go to rdx and xmm1. name
// names the callback in errors. Off linux/amd64 and linux/arm64 with cgo
// it returns an error that matches errs.ErrUnsupported.
func NewCallback(name string, fn func(a *Args) Result) (*Callback, error) {
	if fn == nil {
		return nil, fmt.Errorf("sandbox: new callback %s: nil function", name)
	}
	return newCallback(name, &callbackFn{raw: fn}, -1)
}

// RegFunc is the register form of a callback's Go function: it is called
// with the caller's integer argument registers (rdi, rsi, rdx, rcx, r8,
// r9) as i0-i5 (i6-i8 are 0) and its vector argument registers (xmm0-xmm7)
// as f0-f7, and returns rax and xmm0. Registers are passed as they are:
// the bits above a narrow integer are undefined, a float32 is the low 32
// bits of its f.
type RegFunc func(i0, i1, i2, i3, i4, i5, i6, i7, i8 uint64, f0, f1, f2, f3, f4, f5, f6, f7 float64) (uint64, float64)

// NewCallbackRegs is NewCallback for a function in register form, which
// the dispatcher calls with no Args in between. fn reads only its first
// nInt integer (0 to 6) and nFloat float (0 to 8) arguments; the others
// are undefined. The entry then saves only those registers (with no float
// argument, none of the vector ones), which makes each call a little
// cheaper.
func NewCallbackRegs(name string, fn RegFunc, nInt, nFloat int) (*Callback, error) {
	if fn == nil {
		return nil, fmt.Errorf("sandbox: new callback %s: nil function", name)
	}
	if nInt < 0 || nInt > 6 || nFloat < 0 || nFloat > 8 {
		return nil, fmt.Errorf("sandbox: new callback %s: %d integer and %d float arguments, at most 6 and 8", name, nInt, nFloat)
	}
	regs := nInt
	if nFloat > 0 {
		regs = -1
	}
	return newCallback(name, &callbackFn{regs: fn, floats: nFloat > 0}, regs)
}

// IntFunc is the integer form of a callback's Go function: it is called
// with the caller's integer argument registers (rdi, rsi, rdx, rcx, r8,
// r9) as i0-i5, as they are (the bits above a narrow integer are
// undefined), and returns rax. Its callback's vector registers are
// neither read nor set (xmm0 is left undefined).
type IntFunc func(i0, i1, i2, i3, i4, i5 uint64) uint64

// NewCallbackInts is NewCallback for a function in integer form, for a C
// function type with up to six integer or pointer arguments, none of
// them floating-point, and an integer, pointer or no result. fn reads
// only its first nInt (0 to 6) arguments; the others are undefined. It
// is the cheapest form: the entry saves only nInt registers and the
// dispatcher calls fn with six.
func NewCallbackInts(name string, fn IntFunc, nInt int) (*Callback, error) {
	if fn == nil {
		return nil, fmt.Errorf("sandbox: new callback %s: nil function", name)
	}
	if nInt < 0 || nInt > 6 {
		return nil, fmt.Errorf("sandbox: new callback %s: %d integer arguments, at most 6", name, nInt)
	}
	return newCallback(name, &callbackFn{ints: fn}, nInt)
}

// FrameFunc is the frame form of a callback's Go function: a raw function
// (see NewCallback) that also receives the address of the caller's stack
// arguments, the first of them at stack (the callee's 8(%rsp) at entry;
// the SysV AMD64 psABI's argument area), to read arguments passed in
// memory: past the sixth integer or eighth vector register, or structs
// of class MEMORY. A function returning a MEMORY-class struct finds the
// caller's buffer in a.Int[0] (rdi), fills it and returns its address in
// Result.Int (rax). The area belongs to the caller and is valid only
// during the call.
type FrameFunc func(a *Args, stack uintptr) Result

// NewCallbackFrame is NewCallback for a function in frame form.
// resultInMemory says that it returns a MEMORY-class struct: a call that
// fails outside a protected call (see Callback) then returns the caller's
// buffer, rdi, in rax as the psABI requires (C code may read the result
// through it), its contents as the caller left them, instead of a zero rax.
func NewCallbackFrame(name string, fn FrameFunc, resultInMemory bool) (*Callback, error) {
	if fn == nil {
		return nil, fmt.Errorf("sandbox: new callback %s: nil function", name)
	}
	return newCallback(name, &callbackFn{frame: fn, sret: resultInMemory}, -1)
}

// callbackFn is what a thunk slot holds: its Callback's Go function, in
// one of its four forms, or none once the Callback is freed.
type callbackFn struct {
	cb     *Callback
	ints   IntFunc
	raw    func(*Args) Result
	regs   RegFunc
	frame  FrameFunc
	floats bool // regs takes float arguments
	sret   bool // frame returns a struct through the caller's buffer (rdi)
	freed  bool // the Callback was freed: no function
}

// newCallback gives fn a slot. regs says which argument registers its
// entry saves (see callbackEntryFor).
func newCallback(name string, fn *callbackFn, regs int) (*Callback, error) {
	c := &Callback{name: name, fn: fn}
	fn.cb = c
	if err := allocThunk(c, regs); err != nil {
		return nil, fmt.Errorf("sandbox: new callback %s: %w", name, err)
	}
	return c, nil
}

// Addr returns the address native code calls.
func (c *Callback) Addr() uintptr { return c.addr }

// Name returns the name given to NewCallback.
func (c *Callback) Name() string { return c.name }

// SetPanicHandler makes h receive the panics of calls made outside any
// protected call (see Callback), on the calling thread, after the panic
// was recovered; nil removes it. A panic in h itself is dropped.
func (c *Callback) SetPanicHandler(h func(*HostPanicError)) {
	if h == nil {
		c.handler.Store(nil)
		return
	}
	c.handler.Store(&h)
}

// Err returns the first panic of a call made outside any protected call
// (a *HostPanicError), or nil.
func (c *Callback) Err() error {
	if e := c.err.Load(); e != nil {
		return e
	}
	return nil
}

// Free releases the callback. Its address stays executable code: a call
// through it that native code makes later does not run the Go function
// but takes the ErrCallbackFreed path (see Callback), until the slot is
// reused by a new callback, which happens only after more than 1,024
// other callbacks were freed since. A call still running is not
// affected. Free is safe to call twice.
func (c *Callback) Free() {
	if c.freed.Swap(true) {
		return
	}
	pg, k := slotOf(c.id)
	pg.fns[k].Store(&callbackFn{cb: c, sret: c.fn.sret, freed: true}) // the Go function is dropped now
	freeThunk(c.id)
}

// thunkPage is one page of thunks and the callbacks of its slots.
type thunkPage struct {
	base  uintptr                                      // address of slot 0
	entry []uint64                                     // the entry each thunk jumps to (see mapThunkPage)
	fns   [1 << cbPageShift]atomic.Pointer[callbackFn] // by slot; a freed one stays until reuse
}

// thunkPage0 is page 0's table (see allocThunk).
var thunkPage0 thunkPage

// maxCallbackPages bounds the thunk pages: 8,192 pages of 128 slots make
// 1,048,576 callbacks alive (or released and waiting for reuse) at once.
const maxCallbackPages = 1 << 13

var (
	// cbPages is the page directory, by page index: a fixed array, so
	// that the dispatcher reaches a Callback in two dependent loads.
	// Entries are set once, under cbMu, and read without a lock.
	cbPages  [maxCallbackPages]atomic.Pointer[thunkPage]
	cbNPages atomic.Int32 // entries set

	cbMu    sync.Mutex
	cbNext  uint32   // ids below it have been handed out
	cbFreed []uint32 // released ids, oldest first (a queue from cbHead)
	cbHead  int

	panicSeq atomic.Int64
	panics   sync.Map // abort code -> *HostPanicError
)

// allocThunk gives c a slot: the oldest released one when more than
// cbQuarantine wait, else the next new one (mapping a page when needed).
// regs selects the slot's entry (see callbackEntryFor).
func allocThunk(c *Callback, regs int) error {
	cbMu.Lock()
	defer cbMu.Unlock()
	var id uint32
	if len(cbFreed)-cbHead > cbQuarantine {
		id = cbFreed[cbHead]
		cbHead++
		if cbHead >= len(cbFreed)/2 { // compact the queue now and then
			cbFreed = append(cbFreed[:0], cbFreed[cbHead:]...)
			cbHead = 0
		}
	} else {
		per := uint32(thunksPerPage())
		if cbNext%per == 0 {
			n := cbNPages.Load()
			if n == maxCallbackPages {
				return fmt.Errorf("too many callbacks (%d)", maxCallbackPages*per)
			}
			base, entry, err := mapThunkPage(cbNext, per)
			if err != nil {
				return err
			}
			pg := &thunkPage0 // the first page's table is static: no heap span for it in a first load
			if n > 0 {
				pg = new(thunkPage)
			}
			pg.base, pg.entry = base, entry
			cbPages[n].Store(pg)
			cbNPages.Store(n + 1)
		}
		id = cbNext
		cbNext++
	}
	pg, k := slotOf(id)
	c.id = id
	c.addr = pg.base + uintptr(k)*thunkSize
	// The slot's entry is only read by calls through this thunk: before
	// the address is handed out, or by a stale caller of the released
	// callback, for which either entry is right.
	atomic.StoreUint64(&pg.entry[k], uint64(callbackEntryFor(regs)))
	pg.fns[k].Store(c.fn)
	return nil
}

// freeThunk queues id for reuse; its Callback stays in the slot until then.
func freeThunk(id uint32) {
	cbMu.Lock()
	defer cbMu.Unlock()
	cbFreed = append(cbFreed, id)
}

// slotOf returns id's page and slot. The page exists.
func slotOf(id uint32) (*thunkPage, uint32) {
	return cbPages[id>>cbPageShift].Load(), id & (1<<cbPageShift - 1)
}

// CallbackPages returns how many thunk pages are mapped (for leak tests):
// enough for the most callbacks alive at once, plus the released slots
// waiting for reuse.
func CallbackPages() int { return int(cbNPages.Load()) }

// lookupCallback returns what the slot of thunk id holds (nil for an id
// no thunk has: never, short of a corrupted register).
func lookupCallback(id uint32) *callbackFn {
	if id>>cbPageShift >= maxCallbackPages {
		return nil
	}
	pg := cbPages[id>>cbPageShift].Load()
	if pg == nil {
		return nil
	}
	return pg.fns[id&(1<<cbPageShift-1)].Load()
}

// cbFrame is the frame a callback's entry builds on its stack (struct
// rp_cbframe, callback.h; the layout is checked in callback_cgo.go) and
// hands to dispatch, valid for that call only.
type cbFrame struct {
	a      Args                // the argument registers in; the result registers out
	more   [cbMoreWords]uint64 // arm64: x6, x7 and x8 in (MoreRegs); none on amd64
	id     uint32              // the thunk's id
	inCall uint8               // 1 inside a protected call
	done   uint8               // set by dispatch when the Go function returned (0 from the entry)
	_      uint16
	code   int64 // out: 0 (set by the C side), or the abort code of a failure when inCall
}

// MoreRegs returns the argument registers beyond Args that the entry of
// the callback that received a saved: on arm64 x6, x7 and x8 (the address
// of the caller's buffer for a result in memory), in a slice of three; on
// amd64 none. Like a, it is valid during that call only. A Go function
// that returns an HFA of three or four members (arm64) puts the last ones
// in a.Float[2] and a.Float[3], which the entry returns in d2 and d3.
func MoreRegs(a *Args) []uint64 {
	f := (*cbFrame)(unsafe.Pointer(a))
	return f.more[:min(3, cbMoreWords)]
}

// DispatchFrame runs the callback whose entry frame (a struct rp_cbframe,
// callback.h) is at f, as the entry does through crosscall2: for package
// child's relay, which runs the callbacks of threads that native code
// created on Go threads of its own.
func DispatchFrame(f unsafe.Pointer) { dispatch(f) }

// dispatch runs the callback of the frame at p, a *cbFrame (a callback's
// entry calls it through crosscall2, callback_amd64.S, as a cgo //export
// wrapper's generated Go function is called): its result goes to
// f.a.Int[0] and f.a.Float[0] (and [1] of each for a 16-byte struct
// result). A failure inside a protected call leaves its abort code in
// f.code, with which the C side then ends the call.
func dispatch(p unsafe.Pointer) {
	f := (*cbFrame)(p)
	fn := lookupCallback(f.id)
	if fn == nil || fn.freed {
		fn.failFreed(f)
		return
	}
	// The integer registers, read before the guard's stores below rather
	// than queued behind them (measured faster: docs/PERFORMANCE.md).
	i := &f.a.Int
	i0, i1, i2, i3, i4, i5 := i[0], i[1], i[2], i[3], i[4], i[5]
	// The panic guard, what keeps a panic from unwinding through C
	// frames: an open-coded defer whose closure only tests f.done when
	// the function returned (recover is a call).
	defer func() {
		if f.done == 0 {
			if v := recover(); v != nil {
				f.fail(v)
			}
		}
	}()
	a := &f.a
	switch {
	case fn.ints != nil:
		a.Int[0] = fn.ints(i0, i1, i2, i3, i4, i5)
	case fn.regs != nil:
		if fn.floats {
			x := &a.Float
			a.Int[0], a.Float[0] = fn.regs(i0, i1, i2, i3, i4, i5, 0, 0, 0, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
		} else {
			a.Int[0], a.Float[0] = fn.regs(i0, i1, i2, i3, i4, i5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		}
	case fn.raw != nil:
		r := fn.raw(a)
		a.Int[0], a.Float[0] = r.Int, r.Float
	default:
		r := fn.frame(a, stackArgs(a))
		a.Int[0], a.Float[0] = r.Int, r.Float
	}
	f.done = 1
}

// fail reports v, the recovered panic of the Go function of the callback
// of frame f (see Callback.fail), leaving an abort code in f.code inside
// a protected call. The slot still holds the callback (the Callback or,
// freed meanwhile, its freed mark, with the same name and result kind): a
// slot is reused only after more than cbQuarantine others were freed.
func (f *cbFrame) fail(v any) {
	fn := lookupCallback(f.id)
	c := fn.cb
	f.code = c.fail(&HostPanicError{Func: c.name, Value: v, Stack: debug.Stack()}, &f.a, f.inCall != 0, fn.sret)
}

// failFreed reports a call of frame f through a freed Callback, whose
// slot holds fn (nil for an id no thunk has: never, short of a corrupted
// register), as a panic with value ErrCallbackFreed.
func (fn *callbackFn) failFreed(f *cbFrame) {
	var c *Callback
	name := fmt.Sprintf("#%d", f.id)
	if fn != nil {
		c, name = fn.cb, fn.cb.name
	}
	f.code = c.fail(&HostPanicError{Func: name, Value: ErrCallbackFreed}, &f.a, f.inCall != 0, fn != nil && fn.sret)
}

// fail reports e, the failure of a call of c (nil when the id is unknown):
// inside a protected call as the abort code that ends it; outside one by
// zeroing the result registers (but rax = rdi, the caller's buffer, for
// a result in memory: sret) and telling c's handler.
func (c *Callback) fail(e *HostPanicError, a *Args, inCall, sret bool) int64 {
	if inCall {
		return storePanic(e)
	}
	if !sret { // a.Int[0] still holds rdi: the Go function never returned
		a.Int[0] = 0
	}
	a.Float[0] = 0
	if c == nil {
		return 0
	}
	c.err.CompareAndSwap(nil, e)
	if h := c.handler.Load(); h != nil {
		func() {
			defer func() { _ = recover() }()
			(*h)(e)
		}()
	}
	return 0
}

// storePanic keeps e until the protected call it aborts turns its code
// back into it (abortError), and returns that code: negative, never 0.
func storePanic(e *HostPanicError) int64 {
	code := math.MinInt64 + panicSeq.Add(1)
	panics.Store(code, e)
	return code
}

// abortError is the error of a call ended by rp_abort_current(code): the
// *HostPanicError that code stands for, or an *AbortError.
func abortError(code int64, pc uintptr) error {
	if v, ok := panics.LoadAndDelete(code); ok {
		return v.(*HostPanicError)
	}
	return &AbortError{Code: code, PC: pc}
}
