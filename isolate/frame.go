//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// General calls and callbacks, the host's side.
//
// A general call arrives laid out (wire.RemoteFrame: the loader ran the
// signature's moves): the stack words, the descriptors of the buffers
// (Go memory passed by address) and the buffers themselves go into the
// channel's data area, the registers into its header, and the child calls
// from there with the in-process trampoline (child_frame.go). The result
// registers come back in the header, a result in memory and the Out
// buffers in the data area, at the offsets the host chose (it reads
// nothing back at an offset the child wrote).
//
// A Callback passed to the plugin gets an entry in the child the first
// time (opNewCallback; the child makes a loader.Callback there whose Go
// function sends each call back as opCallback, as host functions do), and
// keeps it until the Callback is released or the child ends. Which
// channel a call of that entry travels on:
//   - on a thread serving a channel (a call from the host is running on
//     it): that channel, nested in the call, as a host function;
//   - on any other thread (one the plugin created, during a call or
//     after): the child's upcall channel, one channel of the pool that the
//     first callback takes out of it for good, served in the host by a
//     goroutine of its own; such calls are serialised. With a single
//     channel there is none, and such a call gets a zero result (as a
//     callback that panics outside a call).

// callbacks is a remote's table of the Callbacks passed to its plugin,
// by id (the ids stay across restarts; entries are per child).
type callbacks struct {
	cbMu    sync.Mutex
	cbIDs   map[*wire.RemoteCallback]uint32
	cbs     []*wire.RemoteCallback
	cbFreed []bool
}

// procCallbacks is a child's part: the address of each callback's entry.
type procCallbacks struct {
	pcbMu    sync.Mutex // held across an opNewCallback round trip
	cbAddr   map[uint32]uint64
	toFree   []uint32 // entries of released callbacks not yet dropped
	upcall   *hostChan
	upDone   chan struct{} // closed when upcall's server has returned
	noUpcall bool          // the pool had no channel to spare once
}

// waitUpcall waits for the upcall channel's server to return, once the
// child is dead: the mapping may then go.
func (p *proc) waitUpcall() {
	p.pcbMu.Lock()
	d := p.upDone
	p.pcbMu.Unlock()
	if d != nil {
		<-d
	}
}

// callbackByID returns callback id.
func (r *remote) callbackByID(id uint32) (*wire.RemoteCallback, bool) {
	r.cbMu.Lock()
	defer r.cbMu.Unlock()
	if int(id) >= len(r.cbs) {
		return nil, false
	}
	return r.cbs[id], true
}

// ncallbacks is the number of Callbacks passed to the plugin.
func (r *remote) ncallbacks() int {
	r.cbMu.Lock()
	defer r.cbMu.Unlock()
	return len(r.cbs)
}

// released reports whether callback id was released.
func (r *remote) released(id uint32) bool {
	r.cbMu.Lock()
	defer r.cbMu.Unlock()
	return int(id) < len(r.cbFreed) && r.cbFreed[id]
}

// freedCallback is what a call of a released callback's entry runs: the
// panic a released Callback's address gives in process.
func freedCallback(*pcall.Args) pcall.Result { panic(pcall.ErrCallbackFreed) }

// callbackID returns rc's id, numbering it the first time.
func (r *remote) callbackID(rc *wire.RemoteCallback) (uint32, error) {
	r.cbMu.Lock()
	defer r.cbMu.Unlock()
	if id, ok := r.cbIDs[rc]; ok {
		if r.cbFreed[id] {
			return 0, fmt.Errorf("isolate: callback %s: %w", rc.Name, pcall.ErrCallbackFreed)
		}
		return id, nil
	}
	id := uint32(len(r.cbs))
	if !rc.Watch(r, func() { r.callbackReleased(id) }) {
		return 0, fmt.Errorf("isolate: callback %s: %w", rc.Name, pcall.ErrCallbackFreed)
	}
	if r.cbIDs == nil {
		r.cbIDs = map[*wire.RemoteCallback]uint32{}
	}
	r.cbIDs[rc] = id
	r.cbs = append(r.cbs, rc)
	r.cbFreed = append(r.cbFreed, false)
	return id, nil
}

// callbackReleased drops callback id's entry: at once when a channel is
// free, else with the next callback made.
func (r *remote) callbackReleased(id uint32) {
	r.cbMu.Lock()
	r.cbFreed[id] = true
	r.cbMu.Unlock()
	p := r.cur.Load()
	p.pcbMu.Lock()
	defer p.pcbMu.Unlock()
	if _, ok := p.cbAddr[id]; !ok {
		return
	}
	delete(p.cbAddr, id)
	p.toFree = append(p.toFree, id)
	// r.mu keeps Close and Restart (which unmap the channels) away; when
	// one runs, or no channel is free, the next callbackEntry drops it.
	if !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	if r.cur.Load() != p {
		return
	}
	if c := p.tryAcquire(); c != nil {
		c.flushFrees()
		p.release(c)
	}
}

// forgetCallbacks stops watching the Callbacks (Close).
func (r *remote) forgetCallbacks() {
	r.cbMu.Lock()
	cbs := r.cbs
	r.cbMu.Unlock()
	for _, rc := range cbs {
		rc.Unwatch(r)
	}
}

// tryAcquire takes a free channel if there is one, else returns nil.
func (p *proc) tryAcquire() *hostChan {
	if p.dead.Load() {
		return nil
	}
	select {
	case <-p.nfree:
	default:
		return nil
	}
	p.freeMu.Lock()
	c := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.freeMu.Unlock()
	return c
}

// flushFrees drops the entries of released callbacks, on c. pcbMu is
// held.
func (c *hostChan) flushFrees() {
	p := c.p
	for len(p.toFree) > 0 {
		id := p.toFree[len(p.toFree)-1]
		p.toFree = p.toFree[:len(p.toFree)-1]
		c.h.kind, c.h.handle = opFreeCallback, id
		if c.roundTrip(nil) != nil {
			return
		}
	}
}

// callbackEntry returns the address of rc's entry in the child, making
// it (a round trip on c) the first time.
func (c *hostChan) callbackEntry(rc *wire.RemoteCallback) (uint64, error) {
	p := c.p
	id, err := p.r.callbackID(rc)
	if err != nil {
		return 0, err
	}
	p.pcbMu.Lock()
	defer p.pcbMu.Unlock()
	if a, ok := p.cbAddr[id]; ok {
		return a, nil
	}
	c.flushFrees()
	h := c.h
	h.kind, h.handle, h.cbStrs, h.cbFrame = opNewCallback, id, uint32(rc.Strings), 0
	if rc.Frame != nil {
		h.cbFrame, h.nstack, h.sretSize = 1, rc.StackSize/8, rc.SRetSize
	}
	h.inLen = uint32(putStrings(c.data[:c.hostArea], rc.Name, ""))
	if err := c.roundTrip(nil); err != nil {
		return 0, err
	}
	if err := c.replyErr(); err != nil {
		return 0, err
	}
	addr := atomic.LoadUint64(&h.symAddr)
	if addr == 0 {
		p.kill("protocol")
		return 0, fmt.Errorf("isolate: callback %s: the child made its entry at address 0: %w", rc.Name, ErrProtocol)
	}
	if p.cbAddr == nil {
		p.cbAddr = map[uint32]uint64{}
	}
	p.cbAddr[id] = addr
	p.startUpcall()
	return addr, nil
}

// startUpcall makes a free channel the child's upcall channel, unless
// there is one or none is free. pcbMu is held.
func (p *proc) startUpcall() {
	if p.upcall != nil || p.noUpcall {
		return
	}
	c := p.tryAcquire()
	if c == nil {
		p.noUpcall = true // the pool is all in use or has one channel
		return
	}
	c.h.kind = opUpcall
	if err := c.roundTrip(nil); err != nil {
		return
	}
	// The child's serving thread waits for this, acknowledges, and only
	// then lets other threads use the channel: the server starts after
	// the acknowledgement and before any call on it.
	post(&c.h.toChild, &c.h.childWaiting)
	v, ok := waitChange(&c.h.toHost, &c.h.hostWaiting, c.seen, &p.dead, waitSpin)
	if !ok || p.dead.Load() {
		return
	}
	c.seen = v
	p.upcall, p.upDone = c, make(chan struct{})
	go c.serveUpcalls()
}

// serveUpcalls answers the calls on the upcall channel until the child
// ends.
func (c *hostChan) serveUpcalls() {
	p, h := c.p, c.h
	defer close(p.upDone)
	for {
		v, ok := waitChange(&h.toHost, &h.hostWaiting, c.seen, &p.dead, 0)
		if !ok || p.dead.Load() {
			return
		}
		if v != c.seen+1 {
			p.r.log.Error("isolated plugin: repeated or forged message on the upcall channel", "from", c.seen, "to", v)
			p.kill("protocol")
			return
		}
		c.seen = v
		if kind := atomic.LoadUint32(&h.kind); kind != opHostCall && kind != opCallback {
			p.r.log.Error("isolated plugin: bad message on the upcall channel", "kind", kind)
			p.kill("protocol")
			return
		}
		if err := c.hostCall(true); err != nil {
			p.r.log.Error("isolated plugin: bad call on the upcall channel", "error", err)
			p.kill("protocol")
			return
		}
		h.kind = opHostRet
		post(&h.toChild, &h.childWaiting)
	}
}

// upcallPanic reports the panic of a host function or callback that a
// thread of the child in no call from the host called: the caller got a
// zero result.
func (c *hostChan) upcallPanic(name string, rc *wire.RemoteCallback, pv any) {
	e := &pcall.HostPanicError{Func: name, Value: pv}
	if rc != nil {
		rc.ReportPanic(e)
		return
	}
	c.p.r.log.Error("host function panicked outside a plugin call; it returned 0", "symbol", name, "panic", fmt.Sprint(pv))
}

// callNested runs fn for a call on c, on this thread (locked to it
// meanwhile), so that InHostCall finds it. On the upcall channel too: a
// Close there would wait for the server that runs it.
func (c *hostChan) callNested(fn wire.RawHostFunc, a *pcall.Args) (pcall.Result, any) {
	runtime.LockOSThread()
	c.hostTid.Store(int32(unix.Gettid()))
	res, pv := callHost(fn, a)
	c.hostTid.Store(0)
	runtime.UnlockOSThread()
	return res, pv
}

// InHostCall implements wire.Remote.
func (r *remote) InHostCall() bool {
	p := r.cur.Load()
	var tid int32
	for _, c := range p.chans[:p.nactive.Load()] {
		if t := c.hostTid.Load(); t != 0 {
			if tid == 0 {
				tid = int32(unix.Gettid())
			}
			if t == tid {
				return true
			}
		}
	}
	return false
}

// align16 rounds n up to a multiple of 16.
func align16(n int) int { return (n + 15) &^ 15 }

// CallFrame implements wire.Remote.
func (r *remote) CallFrame(ctx context.Context, handle uint32, fr *wire.RemoteFrame) (pcall.FrameResult, error) {
	p := r.cur.Load()
	c, err := p.acquire(ctx)
	if err != nil {
		return pcall.FrameResult{}, err
	}
	defer p.release(c)
	regs := fr.Regs
	var cbAddrs [8]uint64
	cbAt := cbAddrs[:0]
	for _, fc := range fr.Callbacks {
		a, err := c.callbackEntry(fc.CB)
		if err != nil {
			return pcall.FrameResult{}, err
		}
		cbAt = append(cbAt, a)
	}
	data := c.data[:c.hostArea]
	nstack := len(fr.Stack)
	tooLarge := func(n int) error {
		return fmt.Errorf("isolate: a call of %d bytes of stack arguments, buffers and result, the channel holds %d: %w", n, len(data), ErrBufferTooLarge)
	}
	if nstack > pcall.MaxFrameStack/8 || nstack*8 > len(data) {
		return pcall.FrameResult{}, tooLarge(nstack * 8)
	}
	stack := wordsAt(data, nstack)
	copy(stack, fr.Stack)
	descOff := align16(nstack * 8)
	off := descOff + 16*len(fr.Bufs)
	if off > len(data) {
		return pcall.FrameResult{}, tooLarge(off)
	}
	descs := descsAt(data[descOff:], len(fr.Bufs))
	offs := make([]int, len(fr.Bufs))
	for i, b := range fr.Bufs {
		off = align16(off)
		if off+len(b.Data) > len(data) || b.Word < 0 || b.Word >= pcall.GatherRegs+nstack {
			return pcall.FrameResult{}, tooLarge(off + len(b.Data))
		}
		copy(data[off:], b.Data)
		descs[i] = bufDesc{slot: uint32(b.Word), off: uint32(off), n: uint32(len(b.Data))}
		offs[i] = off
		off += len(b.Data)
	}
	sretOff := align16(off)
	if sretOff+len(fr.SRet) > len(data) || len(fr.SRet) > pcall.MaxFrameSRet {
		return pcall.FrameResult{}, tooLarge(sretOff + len(fr.SRet))
	}
	for i, fc := range fr.Callbacks {
		switch w := fc.Word; {
		case w >= 0 && w < pcall.GatherRegs:
			regs[w] = cbAt[i]
		case w >= pcall.GatherRegs && w < pcall.GatherRegs+nstack:
			stack[w-pcall.GatherRegs] = cbAt[i]
		}
	}
	h := c.h
	h.kind, h.handle = opCallFrame, handle
	copy(h.ints[:], regs[:6])
	copy(h.more[:], regs[6:pcall.GatherVec]) // arm64: x6, x7 (none on amd64)
	for i := range h.floats {
		h.floats[i] = math.Float64frombits(regs[pcall.GatherVec+i])
	}
	h.nstack, h.nvec, h.ndesc, h.descOff = uint32(nstack), uint32(fr.NVec), uint32(len(fr.Bufs)), uint32(descOff)
	h.sretOff, h.sretSize = uint32(sretOff), uint32(len(fr.SRet))
	h.quad, h.vhi = 0, fr.VHi
	if fr.Quad {
		h.quad = 1
	}
	if err := c.roundTrip(ctx); err != nil {
		return pcall.FrameResult{}, err
	}
	if err := c.replyErr(); err != nil {
		return pcall.FrameResult{}, err
	}
	res := pcall.FrameResult{RAX: h.resInt, RDX: h.resRDX, XMM0: h.resX0, XMM1: h.resX1}
	copy(res.V23[:], h.resV23[:]) // arm64: v2, v3 (none on amd64)
	if fr.Quad {
		copy(res.VHi[:], h.resVHi[:]) // arm64: q0-q3's high halves
	}
	for i, b := range fr.Bufs {
		if b.Out {
			copy(b.Data, data[offs[i]:])
		}
	}
	copy(fr.SRet, data[sretOff:])
	return res, nil
}
