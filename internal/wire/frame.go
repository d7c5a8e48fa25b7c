package wire

import (
	"github.com/runplug/runplug/internal/pcall"
	"sync"
)

// RemoteFrame is a general call of an isolated plugin.
type RemoteFrame struct {
	// Regs are the argument registers: rdi..r9, then the bits of
	// xmm0..xmm7 (the first pcall.GatherRegs frame words).
	Regs [pcall.GatherRegs]uint64
	// Stack holds the stack argument words (frame words GatherRegs on).
	Stack []uint64
	// NVec is al at the call (the vector registers used, for a variadic
	// callee).
	NVec uint8
	// Quad (arm64) passes or returns long doubles in whole q registers:
	// VHi holds the high 64 bits of v0..v7 (pcall.Frame.Quad).
	Quad bool
	VHi  [8]uint64
	// SRet, when not nil, receives a result of class MEMORY (its length
	// is the result's size).
	SRet []byte
	// Bufs are Go memory passed by address.
	Bufs []FrameBuffer
	// Callbacks are Callbacks passed as function pointers.
	Callbacks []FrameCallback
}

// FrameBuffer is Go memory a general call passes by address: the address
// of a copy of Data in the plugin's process goes in frame word Word (0-5:
// an integer register; pcall.GatherRegs on: a stack word), and with Out
// the plugin's bytes come back into Data after the call.
type FrameBuffer struct {
	Word int
	Data []byte
	Out  bool
}

// FrameCallback is a Callback passed as a C function pointer in frame
// word Word: the word is replaced by the address of an entry in the
// plugin's process that calls CB.
type FrameCallback struct {
	Word int
	CB   *RemoteCallback
}

// RemoteCallback is a Callback as an isolated plugin reaches it: a Go
// function called with registers, like a RemoteHostFunc. The Isolation
// makes an entry for it in the plugin's process when a call first passes
// it, and drops that entry when the Callback is released (Watch).
type RemoteCallback struct {
	// RemoteHostFunc is the function as a host function's: its name, the
	// string registers, Call for a register signature or Frame (with its
	// stack and result sizes) for the general form; Call and Frame are
	// both nil when the signature cannot cross (a string argument of the
	// general form).
	RemoteHostFunc
	// Addr is the Callback's address in the host (its Ptr).
	Addr uintptr
	// OnPanic receives the panic of a call made outside any call from
	// the host (see ReportPanic); nil drops it.
	OnPanic func(*pcall.HostPanicError)

	mu       sync.Mutex
	released bool
	watchers map[any]func()
}

// ReportPanic hands e, the panic of a call made outside any call from the
// host (on a thread the plugin created), to the Callback's panic handler
// and Err, as a call in process outside any protected call does.
func (c *RemoteCallback) ReportPanic(e *pcall.HostPanicError) {
	if c.OnPanic != nil {
		c.OnPanic(e)
	}
}

// Watch makes fn run (once, on the releasing goroutine) when the Callback
// is released; key names the watcher for Unwatch. It returns false, and
// does not keep fn, when the Callback is already released.
func (c *RemoteCallback) Watch(key any, fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.released {
		return false
	}
	if c.watchers == nil {
		c.watchers = map[any]func(){}
	}
	c.watchers[key] = fn
	return true
}

// Unwatch forgets the watcher key.
func (c *RemoteCallback) Unwatch(key any) {
	c.mu.Lock()
	delete(c.watchers, key)
	c.mu.Unlock()
}

// Released reports whether the Callback was released.
func (c *RemoteCallback) Released() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.released
}

// Release marks the Callback released and runs its watchers; it reports
// whether this call released it (false the second time).
func (c *RemoteCallback) Release() bool {
	c.mu.Lock()
	if c.released {
		c.mu.Unlock()
		return false
	}
	c.released = true
	ws := c.watchers
	c.watchers = nil
	c.mu.Unlock()
	for _, fn := range ws {
		fn()
	}
	return true
}
