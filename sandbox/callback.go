package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Host callbacks: a C-callable address per Go function.
//
// Each Callback owns one 32-byte thunk in an executable page that this
// file generates: the page is mapped read-write, filled with a thunk for
// every slot (slot k of page p loads callback id p*perPage+k into r11 and
// jumps to rp_cb_entry), then made read-and-execute; it is never writable
// and executable at once, and never written again. Ids are recycled
// through per-page free lists, and a page whose slots are all free is
// unmapped (except the last page left, kept for the next registration).
// The dispatcher finds the Go function of an id in a sync.Map.

// thunkSize is the size of one thunk slot.
const thunkSize = 32

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
// value when that is an error.
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
// ABI), and gets back the Go function's Result in rax and xmm0.
//
// The Go function runs outside the fault protection of the plugin call it
// came from: its own faults (a nil dereference) are ordinary Go panics. A
// panic is recovered by the dispatcher; when the callback was called
// inside a protected call (Call, CallContext) that call ends with a
// *HostPanicError and the Go function's caller, the native code, never
// resumes. Called from a thread that is in no protected call (one the
// plugin created), a panic is not recovered: it crashes the process as
// an unrecovered panic in a goroutine would.
//
// A Callback costs one thunk slot (32 bytes of a shared executable page)
// and a map entry until Free.
type Callback struct {
	name  string
	fn    func(*Args) Result
	id    uint32
	addr  uintptr
	freed atomic.Bool
}

type thunkPage struct {
	mem  []byte   // the page, read-and-execute once filled
	free []uint32 // free slots
}

var (
	cbMu      sync.Mutex
	cbPages   []*thunkPage // by page index; nil once unmapped
	cbByID    sync.Map     // uint32 id -> *Callback
	cbPerPage = uint32(os.Getpagesize() / thunkSize)

	panicSeq atomic.Int64
	panics   sync.Map // abort code -> *HostPanicError
)

// NewCallback returns a Callback that runs fn. The *Args fn receives holds
// the caller's argument registers (a float32 argument is in the low 32
// bits of its Float slot; integers narrower than 64 bits have undefined
// upper bits) and is valid only during the call; fn's Result goes to rax
// and xmm0 (for a float32 result put its bits in the low 32 bits). name
// names the callback in errors.
func NewCallback(name string, fn func(a *Args) Result) (*Callback, error) {
	if fn == nil {
		return nil, fmt.Errorf("sandbox: new callback %s: nil function", name)
	}
	id, err := allocThunk()
	if err != nil {
		return nil, fmt.Errorf("sandbox: new callback %s: %w", name, err)
	}
	c := &Callback{name: name, fn: fn, id: id, addr: thunkAddr(id)}
	cbByID.Store(id, c)
	return c, nil
}

// Addr returns the address native code calls.
func (c *Callback) Addr() uintptr { return c.addr }

// Name returns the name given to NewCallback.
func (c *Callback) Name() string { return c.name }

// Free releases the callback's thunk slot for reuse; a page with no
// callback left is unmapped. The caller must make sure no native code
// still holds Addr: a later call through it may run another callback, or
// fault. A call still running is not affected. Free is safe to call twice.
func (c *Callback) Free() {
	if c.freed.Swap(true) {
		return
	}
	cbByID.Delete(c.id)
	freeThunk(c.id)
}

// thunkAddr returns the address of id's thunk. The page exists.
func thunkAddr(id uint32) uintptr {
	cbMu.Lock()
	defer cbMu.Unlock()
	pg := cbPages[id/cbPerPage]
	return uintptr(unsafe.Pointer(&pg.mem[0])) + uintptr(id%cbPerPage)*thunkSize
}

// allocThunk returns a free callback id, mapping a new page of thunks
// when every page is full.
func allocThunk() (uint32, error) {
	cbMu.Lock()
	defer cbMu.Unlock()
	for i, pg := range cbPages {
		if pg != nil && len(pg.free) > 0 {
			k := pg.free[len(pg.free)-1]
			pg.free = pg.free[:len(pg.free)-1]
			return uint32(i)*cbPerPage + k, nil
		}
	}
	idx := len(cbPages)
	for i, pg := range cbPages {
		if pg == nil {
			idx = i
			break
		}
	}
	if uint64(idx+1)*uint64(cbPerPage) > math.MaxUint32 {
		return 0, errors.New("too many callbacks")
	}
	pg, err := newThunkPage(uint32(idx))
	if err != nil {
		return 0, err
	}
	if idx == len(cbPages) {
		cbPages = append(cbPages, pg)
	} else {
		cbPages[idx] = pg
	}
	k := pg.free[len(pg.free)-1]
	pg.free = pg.free[:len(pg.free)-1]
	return uint32(idx)*cbPerPage + k, nil
}

// newThunkPage maps page idx and fills it with the thunks of its ids:
//
//	49 bb ID(8)     movabs $ID, %r11
//	49 ba ENTRY(8)  movabs $rp_cb_entry, %r10
//	41 ff e2        jmp *%r10
//	cc...           int3 up to 32 bytes
func newThunkPage(idx uint32) (*thunkPage, error) {
	ps := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, ps, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("map thunk page: %w", err)
	}
	entry := uint64(callbackEntry())
	for k := uint32(0); k < cbPerPage; k++ {
		t := mem[k*thunkSize : (k+1)*thunkSize]
		t[0], t[1] = 0x49, 0xbb
		binary.LittleEndian.PutUint64(t[2:], uint64(idx*cbPerPage+k))
		t[10], t[11] = 0x49, 0xba
		binary.LittleEndian.PutUint64(t[12:], entry)
		t[20], t[21], t[22] = 0x41, 0xff, 0xe2
		for j := 23; j < thunkSize; j++ {
			t[j] = 0xcc
		}
	}
	if err := unix.Mprotect(mem, unix.PROT_READ|unix.PROT_EXEC); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("protect thunk page: %w", err)
	}
	pg := &thunkPage{mem: mem, free: make([]uint32, 0, cbPerPage)}
	for k := cbPerPage; k > 0; k-- { // slot 0 is handed out first
		pg.free = append(pg.free, k-1)
	}
	return pg, nil
}

// freeThunk returns id's slot to its page and unmaps the page when it is
// empty and not the only one left.
func freeThunk(id uint32) {
	cbMu.Lock()
	defer cbMu.Unlock()
	i := id / cbPerPage
	pg := cbPages[i]
	pg.free = append(pg.free, id%cbPerPage)
	if uint32(len(pg.free)) < cbPerPage {
		return
	}
	live := 0
	for _, p := range cbPages {
		if p != nil {
			live++
		}
	}
	if live == 1 {
		return
	}
	unix.Munmap(pg.mem)
	cbPages[i] = nil
	for len(cbPages) > 0 && cbPages[len(cbPages)-1] == nil {
		cbPages = cbPages[:len(cbPages)-1]
	}
}

// CallbackPages returns how many thunk pages are mapped (for leak tests).
func CallbackPages() int {
	cbMu.Lock()
	defer cbMu.Unlock()
	n := 0
	for _, p := range cbPages {
		if p != nil {
			n++
		}
	}
	return n
}

// dispatch runs callback id (see rpGoCallback).
func dispatch(id uint32, a *Args, inCall bool) (code int64) {
	v, ok := cbByID.Load(id)
	if !ok {
		if !inCall {
			a.Int[0], a.Float[0] = 0, 0
			return 0
		}
		return storePanic(&HostPanicError{Func: fmt.Sprintf("#%d", id), Value: ErrCallbackFreed})
	}
	c := v.(*Callback)
	if inCall {
		defer func() {
			if v := recover(); v != nil {
				code = storePanic(&HostPanicError{Func: c.name, Value: v, Stack: debug.Stack()})
			}
		}()
	}
	r := c.fn(a)
	a.Int[0], a.Float[0] = r.Int, r.Float
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
