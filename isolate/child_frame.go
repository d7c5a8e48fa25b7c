//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/runplug/runplug/internal/childrt"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/rawcall"
	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/loader"
)

// General calls and callbacks, the child's side (frame.go has the
// protocol). Everything in a request is checked against the channel's
// data area before it is used.

// codeCallbackFreed is the code of a statusHostPanic reply whose panic was
// a call of a released Callback (pcall.ErrCallbackFreed).
const codeCallbackFreed = 1 << 16

// childCallbacks is the child's callback entries and its upcall channel.
type childCallbacks struct {
	mu   sync.Mutex
	byID map[uint32]entry
	// upcall carries the calls of threads that serve no channel; upMu
	// serialises them.
	upcall atomic.Pointer[childChan]
	upMu   sync.Mutex
	// Threads waiting in borrow for a call (or the upcall channel).
	lk      sync.Mutex
	cond    sync.Cond // on lk
	waiters atomic.Int32
	relay   sync.Once   // childrt.RelayForeignThreads started
	relayOn atomic.Bool // and done
	// shapes are the general forms of the host functions, by index, as
	// the host told them (nil: a register form, or not called yet).
	shapesOnce sync.Once
	shapes     []atomic.Pointer[frameShape]
}

// The states of a channel, for host calls from the plugin's own threads.
// While the host waits for a call's reply it serves any host call that
// arrives on the channel, so a thread of the plugin's own (one that serves
// no channel) may borrow a channel in chanInCall to send its host call
// there: it sets chanNested for the exchange, as the serving thread does
// for its own nested host calls, and sets chanInCall back. The serving
// thread sets chanInCall only around the plugin call itself, and settles
// the channel to chanIdle (waiting for a borrowed exchange to end) before
// it writes the reply.
const (
	chanIdle   = 0
	chanInCall = 1
	chanNested = 2
)

// enter opens the channel to borrowers for the plugin call about to run
// on it, and wakes the threads waiting for one; it reports whether it
// did: only once the relay runs (before, no thread can borrow), so that a
// plain call costs nothing more.
func (ch *childChan) enter() bool {
	if !ch.c.cb.relayOn.Load() {
		return false
	}
	ch.state.Store(chanInCall)
	ch.c.cb.wake()
	return true
}

// release ends a nested exchange on the channel.
func (ch *childChan) release() {
	ch.state.Store(chanInCall)
	ch.c.cb.wake()
}

// releaseBorrowed ends a borrowed exchange: the reply status it used is
// the serving thread's again (statusOK, as handle set it).
func (ch *childChan) releaseBorrowed() {
	ch.h.status, ch.h.code, ch.h.msgLen = statusOK, 0, 0
	ch.release()
}

// settle, after a call enter opened, waits until no borrowed exchange is
// on the channel, then marks it idle.
func (ch *childChan) settle(open bool) {
	if open {
		ch.c.cb.waitUntil(func() bool { return ch.state.CompareAndSwap(chanInCall, chanIdle) })
	}
}

// nest takes the channel for a nested exchange of its serving thread.
func (ch *childChan) nest() {
	ch.c.cb.waitUntil(func() bool { return ch.state.CompareAndSwap(chanInCall, chanNested) })
}

// borrow takes a channel a call from the host is running on, for a host
// call of a thread that serves none. When no call runs it returns nil if
// there is an upcall channel, else it waits for the host's next call.
func (c *child) borrow() *childChan {
	var got *childChan
	c.cb.waitUntil(func() bool {
		busy := false
		for _, ch := range c.chans {
			switch ch.state.Load() {
			case chanInCall:
				if ch.state.CompareAndSwap(chanInCall, chanNested) {
					got = ch
					return true
				}
				busy = true
			case chanNested:
				busy = true // its exchange ends: wait for it
			}
		}
		return !busy && c.cb.upcall.Load() != nil
	})
	return got
}

// waitUntil returns once try succeeds; it is tried again after each
// change of a channel's state (enter, release, the upcall channel; wake).
// A wait is short (an exchange with the host) unless no call runs.
func (cbs *childCallbacks) waitUntil(try func() bool) {
	if try() {
		return
	}
	cbs.lk.Lock()
	defer cbs.lk.Unlock()
	cbs.waiters.Add(1)
	defer cbs.waiters.Add(-1)
	for !try() {
		cbs.cond.Wait()
	}
}

// wake wakes the threads in waitUntil after a channel's state changed.
func (cbs *childCallbacks) wake() {
	if cbs.waiters.Load() > 0 {
		cbs.lk.Lock()
		cbs.cond.Broadcast()
		cbs.lk.Unlock()
	}
}

// startRelay makes the calls of callbacks and host functions that the
// plugin's own threads make run on a Go thread: those threads cannot run
// Go code in this process (its package initialization never ends:
// childMain serves from init). Once: at the first request when the host
// registered host functions, else when the first callback entry is made
// (a thread of the child costs ~20 KiB of PSS).
func (c *child) startRelay() {
	c.cb.relay.Do(func() {
		c.cb.cond.L = &c.cb.lk
		childrt.RelayForeignThreads() // in place before the plugin runs again
		c.cb.relayOn.Store(true)
	})
}

// callFrame makes the general call the host laid out (opCallFrame).
func (ch *childChan) callFrame() {
	h, c := ch.h, ch.c
	f := c.fn(h.handle)
	if f == nil {
		ch.fail(fmt.Errorf("isolate: no function with handle %d: %w", h.handle, loader.ErrSymbolNotFound))
		return
	}
	area := ch.data[:ch.hostArea]
	n := uint64(len(area))
	nstack, ndesc := uint64(h.nstack), uint64(h.ndesc)
	if nstack > pcall.MaxFrameStack/8 || nstack*8 > n || h.nvec > 8 || h.descOff%8 != 0 ||
		uint64(h.descOff)+16*ndesc > n || uint64(h.sretOff)+uint64(h.sretSize) > n || h.sretSize > pcall.MaxFrameSRet {
		ch.fail(errors.New("isolate: bad frame request"))
		return
	}
	var fr pcall.Frame
	fr.Int, fr.Float = h.ints, h.floats
	if pcall.GatherVec > 6 { // arm64: x6, x7, and long doubles in q registers
		fr.More = h.more
		fr.Quad = h.quad != 0
		copy(fr.VHi[:], h.vhi[:])
	}
	fr.Stack = wordsAt(area, int(nstack))
	for _, d := range descsAt(area[h.descOff:], int(ndesc)) {
		if uint64(d.off)+uint64(d.n) > n {
			ch.fail(errors.New("isolate: bad frame buffer"))
			return
		}
		addr := ch.base + uint64(d.off)
		switch {
		case d.slot < 6:
			fr.Int[d.slot] = addr
		case d.slot < pcall.GatherVec: // arm64: x6, x7
			fr.More[d.slot-6] = addr
		case d.slot >= pcall.GatherRegs && uint64(d.slot-pcall.GatherRegs) < nstack:
			fr.Stack[d.slot-pcall.GatherRegs] = addr
		default:
			ch.fail(errors.New("isolate: bad frame buffer word"))
			return
		}
	}
	fr.NVec = uint8(h.nvec)
	if h.sretSize > 0 {
		fr.SRet, fr.SRetSize = bytesAddr(area[h.sretOff:]), uintptr(h.sretSize)
	}
	open := ch.enter()
	r, err := rawcall.Frame(f, nil, &fr)
	ch.settle(open)
	if err != nil {
		ch.fail(withoutPrefix(err, callPrefix(f.Name(), ch.c.p.Name())))
		return
	}
	h.resInt, h.resRDX, h.resX0, h.resX1 = r.RAX, r.RDX, r.XMM0, r.XMM1
	copy(h.resV23[:], r.V23[:]) // arm64: v2, v3
	copy(h.resVHi[:], r.VHi[:]) // arm64, with quad: q0-q3's high halves
}

// newCallback makes the entry of the host's callback h.handle: a
// loader.Callback whose Go function forwards each call to the host.
func (ch *childChan) newCallback() {
	h, c := ch.h, ch.c
	name, _, ok := readStrings2(ch.data[:ch.hostArea], int(h.inLen))
	if !ok {
		ch.fail(errors.New("isolate: bad callback request"))
		return
	}
	c.startRelay() // before the plugin gets the entry
	id, strs := h.handle, uint8(h.cbStrs)
	var cb entry
	var err error
	if h.cbFrame != 0 {
		fr := frameShape{known: true, nstack: int(h.nstack), sret: int(h.sretSize)}
		if fr.nstack > pcall.MaxFrameStack/8 || fr.sret > pcall.MaxFrameSRet {
			ch.fail(errors.New("isolate: bad callback request"))
			return
		}
		var sc *pcall.Callback
		sc, err = pcall.NewCallbackFrame(name, func(a *pcall.Args, stack uintptr) pcall.Result {
			return c.hostCallFrame(id, name, fr, a, stack)
		}, fr.sret > 0)
		cb = frameEntry{sc}
	} else {
		cb, err = loader.NewCallback(wire.RawHostFunc(func(a *pcall.Args) pcall.Result {
			return c.hostCall(opCallback, id, strs, name, a)
		}))
	}
	if err != nil {
		ch.fail(err)
		return
	}
	// Released, the entry fails as a released Callback does in process;
	// on a thread in no call from the host the host's panic handler must
	// hear of it: a call of the released id tells it (the host answers it
	// with the ErrCallbackFreed panic, reported there).
	cb.SetPanicHandler(func(e *pcall.HostPanicError) {
		if errors.Is(e, pcall.ErrCallbackFreed) {
			c.hostCall(opCallback, id, 0, name, new(pcall.Args)) // panics: dropped
		}
	})
	cbs := &c.cb
	cbs.mu.Lock()
	if cbs.byID == nil {
		cbs.byID = map[uint32]entry{}
	}
	if old := cbs.byID[id]; old != nil {
		old.Release()
	}
	cbs.byID[id] = cb
	cbs.mu.Unlock()
	h.symAddr = uint64(cb.Ptr())
}

// entry is a callback's entry in the child: a loader.Callback (register
// form) or a pcall.Callback (general form).
type entry interface {
	Ptr() uintptr
	SetPanicHandler(func(*pcall.HostPanicError))
	Release()
}

// frameEntry is a general-form entry.
type frameEntry struct{ *pcall.Callback }

func (e frameEntry) Ptr() uintptr { return e.Addr() }
func (e frameEntry) Release()     { e.Free() }

// frameShape is what a general-form entry copies across: its stack
// argument words and the bytes of its MEMORY-class result (known: it is
// of the general form).
type frameShape struct {
	known        bool
	nstack, sret int
}

// freeCallback drops the entry of callback h.handle.
func (ch *childChan) freeCallback() {
	cbs := &ch.c.cb
	cbs.mu.Lock()
	cb := cbs.byID[ch.h.handle]
	delete(cbs.byID, ch.h.handle)
	cbs.mu.Unlock()
	if cb != nil {
		cb.Release()
	}
}

// becomeUpcall turns channel i, whose serving thread (this one) has just
// answered opUpcall, into the upcall channel once the host says it
// serves it; the thread then ends.
func (ch *childChan) becomeUpcall(i int) {
	h := ch.h
	ch.c.tids[i].Store(0) // this thread is no longer the channel's
	v, _ := waitChange(&h.toChild, &h.childWaiting, ch.seen, nil, waitSpin)
	ch.seen = v
	h.kind = opResult
	post(&h.toHost, &h.hostWaiting) // the acknowledgement, before any call on it
	cbs := &ch.c.cb
	cbs.upcall.Store(ch)
	cbs.wake()
}

// hostCall sends a call of host function or callback index (kind
// opHostCall or opCallback) to the host and waits for its result: on the
// channel this thread serves (nested in the host's call), else on the
// upcall channel. strs marks the integer registers that carry C strings,
// copied into the channel.
func (c *child) hostCall(kind, index uint32, strs uint8, name string, a *pcall.Args) pcall.Result {
	r, _ := c.send(kind, index, strs, name, frameShape{}, a, 0)
	return r
}

// hostFuncCall is hostCall for host function i, whose general form (if
// it has one) the host tells on its first call: the stack arguments are
// then sent along (pcall.StackArgs: the forwarder is a callback that
// received a).
func (c *child) hostFuncCall(i int, hf hostFunc, a *pcall.Args) pcall.Result {
	for {
		if i < len(c.cb.shapes) {
			if fr := c.cb.shapes[i].Load(); fr != nil {
				r, _ := c.send(opHostCall, uint32(i), 0, hf.Name, *fr, a, pcall.StackArgs(a))
				return r
			}
		}
		if r, again := c.send(opHostCall, uint32(i), hf.Strings, hf.Name, frameShape{}, a, 0); !again {
			return r
		}
	}
}

// hostCallFrame is hostCall for a general-form callback entry: its stack
// arguments are copied across, and a MEMORY-class result comes back into
// the caller's buffer (rdi, returned in rax).
func (c *child) hostCallFrame(index uint32, name string, fr frameShape, a *pcall.Args, stack uintptr) pcall.Result {
	r, _ := c.send(opCallback, index, 0, name, fr, a, stack)
	return r
}

// send is hostCall and hostCallFrame: again reports that the host asks
// for the call in its general form (statusNeedFrame; now in shapes).
func (c *child) send(kind, index uint32, strs uint8, name string, fr frameShape, a *pcall.Args, stack uintptr) (_ pcall.Result, again bool) {
	foreign := uint32(1)
	ch := c.chanOfThread()
	if ch != nil { // nested in the call this thread serves
		foreign = 0
		ch.nest()
		defer ch.release()
	} else if ch = c.borrow(); ch != nil { // a call runs: its channel
		defer ch.releaseBorrowed()
	} else { // no call runs: the upcall channel
		if ch = c.cb.upcall.Load(); ch == nil {
			panic(fmt.Sprintf("isolate: %s called outside a call from the host, with no upcall channel (a callback takes one; Options.Channels must be 2 or more)", name))
		}
		c.cb.upMu.Lock()
		defer c.cb.upMu.Unlock()
	}
	h := ch.h
	h.foreign = foreign
	area := ch.data[ch.hostArea:]
	used := 0
	for j := 0; j < 6; j++ {
		h.strs[j] = strDesc{}
		if strs&(1<<j) == 0 {
			continue
		}
		n, err := pcall.CStringInto(area[used:], uintptr(a.Int[j]))
		if err != nil {
			panic(fmt.Sprintf("isolate: %s: string argument %d (the channel holds %d bytes): %v", name, j, len(area), err))
		}
		h.strs[j] = strDesc{off: uint32(ch.hostArea + used), n: uint32(n)}
		used += n + 1
	}
	used = (used + 15) &^ 15
	h.cbFrame = 0
	if fr.known {
		h.cbFrame = 1
	}
	stackOff, sretOff := used, used+8*fr.nstack
	if sretOff+fr.sret > len(area) {
		panic(fmt.Sprintf("isolate: %s: %d bytes of stack arguments and result do not fit in the channel (%d bytes)", name, sretOff+fr.sret-used, len(area)-used))
	}
	copyFrom(area[stackOff:sretOff], stack)
	h.descOff, h.sretOff = uint32(ch.hostArea+stackOff), uint32(ch.hostArea+sretOff)
	h.kind, h.handle = kind, index
	h.ints, h.floats = a.Int, a.Float
	copy(h.more[:], pcall.MoreRegs(a)) // arm64: x6, x7 (none on amd64)
	copy(h.vhi[:], pcall.VecHighs(a))  // arm64: v0-v7's high halves (long doubles)
	if childHook != nil {
		childHook(hookHostCall, c, ch)
	}
	post(&h.toHost, &h.hostWaiting)
	v, _ := waitChange(&h.toChild, &h.childWaiting, ch.seen, nil, waitSpin)
	ch.seen = v
	if h.kind != opHostRet {
		panic("isolate: protocol: expected a host call's result")
	}
	if h.status == statusHostPanic {
		_, msg, _ := readStrings2(area, int(h.msgLen))
		panic(remotePanic(msg))
	}
	if h.status == statusNeedFrame && kind == opHostCall && !fr.known {
		nf := frameShape{known: true, nstack: int(h.nstack), sret: int(h.sretSize)}
		if nf.nstack > pcall.MaxFrameStack/8 || nf.sret > pcall.MaxFrameSRet || int(index) >= len(c.cb.shapes) {
			panic("isolate: protocol: bad general form of a host function")
		}
		c.cb.shapes[index].Store(&nf)
		return pcall.Result{}, true // hostFuncCall sends it again
	}
	if fr.sret > 0 {
		buf := a.Int[0] // rdi: the caller's buffer, returned in rax
		if more := pcall.MoreRegs(a); len(more) > 2 {
			buf = more[2] // arm64: x8
		}
		copyTo(uintptr(buf), area[sretOff:sretOff+fr.sret])
		return pcall.Result{Int: buf}, false
	}
	// The second eightbytes of a 16-byte result (rdx, xmm1), and on
	// arm64 the third and fourth members of an HFA (d2, d3).
	a.Int[1], a.Float[1] = h.resRDX, math.Float64frombits(h.resX1)
	a.Float[2], a.Float[3] = math.Float64frombits(h.resV23[0]), math.Float64frombits(h.resV23[1])
	copy(pcall.VecHighs(a), h.resVHi[:]) // arm64: q0-q3's high halves
	return pcall.Result{Int: h.resInt, Float: h.resF}, false
}
