//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"syscall"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// acquire takes the free channel released last, or fails when the child
// is dead or ctx (which may be nil) is done first. Last in, first out:
// the child's thread serving that channel is the one still spinning for
// its next request, so a goroutine calling in a loop finds it awake. (A
// queue hands every call to the channel idle longest, whose thread
// sleeps, and makes every idle thread spin.)
//
// A call nested in a host function or callback (InHostCall) never waits
// for the pool: the calls it is nested in hold channels that free only
// once it returns. It takes a channel beyond the pool (nestedChan), or
// fails with ErrTooDeep.
func (p *proc) acquire(ctx context.Context) (*hostChan, error) {
	if p.dead.Load() {
		return nil, p.exitErr
	}
	select {
	case <-p.nfree:
		return p.pop(), nil
	default:
	}
	if p.r != nil && p.r.InHostCall() {
		return p.nestedChan()
	}
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-p.nfree:
		return p.pop(), nil
	case <-p.done:
		return nil, p.exitErr
	case <-done:
		return nil, &pcall.DeadlineError{Plugin: p.r.name, Cause: ctx.Err()}
	}
}

// pop takes the top of the free stack (the caller took its token).
func (p *proc) pop() *hostChan {
	p.freeMu.Lock()
	c := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.freeMu.Unlock()
	return c
}

// nestedChan takes a free channel beyond the pool, or serves one more
// (the child starts its thread when it sees the header's active count
// rise), or fails with ErrTooDeep when all are in use.
func (p *proc) nestedChan() (*hostChan, error) {
	p.freeMu.Lock()
	defer p.freeMu.Unlock()
	if n := len(p.nested); n > 0 {
		c := p.nested[n-1]
		p.nested = p.nested[:n-1]
		return c, nil
	}
	n := int(p.nactive.Load())
	if n >= len(p.chans) {
		return nil, fmt.Errorf("isolate: call into %s nested in a host function or callback: all %d channels in use (%d in the pool, Options.Channels): %w",
			p.r.name, len(p.chans), p.iso.opts.Channels, ErrTooDeep)
	}
	p.nactive.Store(int32(n + 1))
	atomic.StoreUint32(&p.hdr.active, uint32(n+1))
	futexWake(&p.hdr.active)
	return p.chans[n], nil
}

// release gives c back: on top of its stack, then (the pool's) its
// token.
func (p *proc) release(c *hostChan) {
	p.freeMu.Lock()
	if c.idx >= p.iso.opts.Channels {
		p.nested = append(p.nested, c)
		p.freeMu.Unlock()
		return
	}
	p.free = append(p.free, c)
	p.freeMu.Unlock()
	p.nfree <- struct{}{}
}

// roundTrip sends the request in c and waits for the reply, serving the
// host calls the plugin makes meanwhile. ctx may be nil; when it is done
// first, the child is killed.
func (c *hostChan) roundTrip(ctx context.Context) error {
	p := c.p
	if p.dead.Load() {
		return p.exitErr
	}
	if ctx != nil && ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return &pcall.DeadlineError{Plugin: p.r.name, Cause: err}
		}
		stop := context.AfterFunc(ctx, func() { p.kill("deadline") })
		defer stop()
	}
	h := c.h
	c.panicVal, c.panicName = nil, ""
	post(&h.toChild, &h.childWaiting)
	for {
		v, ok := waitChange(&h.toHost, &h.hostWaiting, c.seen, &p.dead, waitSpin)
		if ok && p.dead.Load() && h.kind == opResult {
			// The reply came, then the child ended (a graceful Close's
			// child exits at once): the reply stands. (The monitor's
			// wake-up also changes the word, but only the child writes
			// opResult over the request's kind.)
			c.seen = v
			return nil
		}
		if !ok || p.dead.Load() {
			<-p.done // exitErr is complete
			if ctx != nil && ctx.Err() != nil {
				if r := p.reason.Load(); r != nil && *r == "deadline" {
					return &pcall.DeadlineError{Plugin: p.r.name, Pid: p.pid, Cause: ctx.Err()}
				}
			}
			return p.exitErr
		}
		// Each message of the child bumps the word once: a jump is a
		// repeated or forged message.
		if v != c.seen+1 {
			p.kill("protocol")
			return fmt.Errorf("isolate: channel %d: the child's message counter went from %d to %d (a repeated or forged message): %w",
				c.idx, c.seen, v, ErrProtocol)
		}
		c.seen = v
		switch kind := atomic.LoadUint32(&h.kind); kind {
		case opResult:
			return nil
		case opHostCall, opCallback:
			if err := c.hostCall(false); err != nil {
				p.kill("protocol")
				return err
			}
			h.kind = opHostRet
			post(&h.toChild, &h.childWaiting)
		default:
			p.kill("protocol")
			return fmt.Errorf("isolate: channel %d: message kind %d from the child, want a result or a host call (a repeated or forged message): %w", c.idx, kind, ErrProtocol)
		}
	}
}

// hostCall runs the host function or callback the plugin called and
// leaves its result in the channel. String arguments are read from the
// copies the child made in the channel (checked to lie in it,
// NUL-terminated). upcall (the upcall channel) or h.foreign (a channel
// borrowed during a call) says that the call came from a thread of the
// child in no call from the host (frame.go): a panic then has no call to
// end, and goes to the Callback's panic handler or the log.
func (c *hostChan) hostCall(upcall bool) error {
	h := c.h
	r := c.p.r
	var fn wire.RemoteHostFunc
	var rc *wire.RemoteCallback
	// Each field once: the child may change it between a check and a use.
	kind, handle := atomic.LoadUint32(&h.kind), atomic.LoadUint32(&h.handle)
	if kind == opCallback {
		var ok bool
		if rc, ok = r.callbackByID(handle); !ok {
			return fmt.Errorf("isolate: callback %d, of %d passed to the plugin: %w", handle, r.ncallbacks(), ErrProtocol)
		}
		fn = rc.RemoteHostFunc
	} else {
		if int(handle) >= len(r.hostFns) {
			return fmt.Errorf("isolate: host function %d, of %d registered: %w", handle, len(r.hostFns), ErrProtocol)
		}
		fn = r.hostFns[handle]
		if fn.Frame != nil && atomic.LoadUint32(&h.cbFrame) == 0 {
			// The child learns a host function's general form from its
			// first call, and sends it again with the stack arguments.
			h.status, h.nstack, h.sretSize = statusNeedFrame, fn.StackSize/8, fn.SRetSize
			return nil
		}
	}
	c.sretLen = 0
	used := 0 // bytes of c.priv the frame's copies take
	if fn.Frame != nil {
		call, n, err := c.frameCall(fn)
		if err != nil {
			return err
		}
		fn.Call, used = call, n
	}
	if rc != nil && r.released(handle) || fn.Call == nil {
		fn.Call, c.sretLen = freedCallback, 0
	}
	a := pcall.NewCallbackArgs() // room for x6, x7, x8 on arm64 (MoreRegs)
	a.Int, a.Float = h.ints, h.floats
	copy(pcall.MoreRegs(a), h.more[:]) // arm64: x6, x7 (none on amd64)
	copy(pcall.VecHighs(a), h.vhi[:])  // arm64: v0-v7's high halves (long doubles)
	// Each string is copied out of the shared memory into the channel's
	// private area, at the length the child gave and with a NUL of the
	// host's own: the function reads a copy no thread of the child can
	// change, and never reads past it.
	priv := c.priv[used:]
	for j := 0; j < 6; j++ {
		if fn.Strings&(1<<j) == 0 {
			continue
		}
		d := h.strs[j] // one copy of the descriptor, then checked
		if int(d.off) < c.hostArea || uint64(d.off)+uint64(d.n) >= uint64(len(c.data)) || int(d.n) >= len(priv) {
			return fmt.Errorf("isolate: host function %s: string argument %d at %d+%d, outside the channel's host-call area [%d, %d): %w",
				fn.Name, j, d.off, d.n, c.hostArea, len(c.data), ErrProtocol)
		}
		copy(priv, c.data[d.off:d.off+d.n])
		priv[d.n] = 0
		a.Int[j] = addrOf(priv)
		priv = priv[d.n+1:]
	}
	res, pv := c.callNested(fn.Call, a)
	if c.sretLen > 0 { // a result in memory, written to the private copy
		copy(c.data[c.sretTo:c.sretTo+c.sretLen], c.priv[c.sretFrom:])
		c.sretLen = 0
	}
	if pv != nil {
		if upcall || atomic.LoadUint32(&h.foreign) != 0 { // from a thread in no call: no call to end
			c.upcallPanic(fn.Name, rc, pv)
		} else {
			c.panicVal, c.panicName = pv, fn.Name
		}
		h.status = statusHostPanic
		h.msgLen = uint32(putStrings(c.data[c.hostArea:], fn.Name, fmt.Sprint(pv)))
		return nil
	}
	h.status = statusOK
	h.resInt, h.resF = res.Int, res.Float
	h.resRDX, h.resX1 = a.Int[1], math.Float64bits(a.Float[1])                       // a 16-byte result's second eightbytes
	h.resV23 = [2]uint64{math.Float64bits(a.Float[2]), math.Float64bits(a.Float[3])} // arm64: an HFA's third and fourth
	copy(h.resVHi[:], pcall.VecHighs(a))                                             // arm64: q0-q3's high halves
	return nil
}

// frameCall returns rc's general form as a function of the registers,
// and the bytes of the private area it uses: its stack arguments are a
// copy of the child's copy at descOff and a MEMORY-class result goes to
// the private area, whose address replaces rdi, and is copied to the
// area at sretOff after the call (descOff and sretOff checked to lie in
// the part of the data area kept for host calls, at the sizes the host
// knows).
func (c *hostChan) frameCall(rc wire.RemoteHostFunc) (wire.RawHostFunc, int, error) {
	h := c.h
	n := uint64(len(c.data))
	so, ro := uint64(h.descOff), uint64(h.sretOff)
	if so < uint64(c.hostArea) || so%8 != 0 || so+uint64(rc.StackSize) > n || ro < uint64(c.hostArea) || ro+uint64(rc.SRetSize) > n {
		return nil, 0, fmt.Errorf("isolate: callback %s: stack copy at %d, result at %d, outside the channel's host-call area [%d, %d): %w",
			rc.Name, so, ro, c.hostArea, n, ErrProtocol)
	}
	// The function runs on private copies: the stack arguments copied
	// out of the shared memory, the result written to the private area
	// and copied into the channel after it returns (see hostCall).
	stackSize, sretSize := int(rc.StackSize), int(rc.SRetSize)
	sOff := align16(stackSize)
	if sOff+sretSize > len(c.priv) {
		return nil, 0, fmt.Errorf("isolate: callback %s: %d bytes of stack arguments and %d of result, more than the channel's %d: %w",
			rc.Name, stackSize, sretSize, len(c.priv), ErrProtocol)
	}
	var stack uintptr
	if stackSize > 0 {
		copy(c.priv[:stackSize], c.data[so:])
		stack = uintptr(addrOf(c.priv))
	}
	var sret uint64
	if sretSize > 0 {
		clear(c.priv[sOff : sOff+sretSize])
		sret = addrOf(c.priv[sOff:])
		c.sretFrom, c.sretTo, c.sretLen = sOff, int(ro), sretSize
	}
	frame := rc.Frame
	return func(a *pcall.Args) pcall.Result {
		if sret != 0 {
			if more := pcall.MoreRegs(a); len(more) > 2 {
				more[2] = sret // arm64: x8
			} else {
				a.Int[0] = sret // rdi
			}
		}
		return frame(a, stack)
	}, sOff + sretSize, nil
}

// callHost calls a host function, recovering its panic.
func callHost(fn wire.RawHostFunc, a *pcall.Args) (r pcall.Result, pv any) {
	defer func() {
		if v := recover(); v != nil {
			pv = v
		}
	}()
	return fn(a), nil
}

// replyErr turns the child's reply status into an error.
func (c *hostChan) replyErr() error {
	h := c.h
	msgLen := int(atomic.LoadUint32(&h.msgLen))
	switch st := atomic.LoadUint32(&h.status); st {
	case statusOK:
		return nil
	case statusFault:
		ss, _ := readStrings(c.data, msgLen, 4)
		for len(ss) < 4 {
			ss = append(ss, "")
		}
		return &pcall.FaultError{Signal: syscall.Signal(h.sig), Code: h.fcode, Addr: uintptr(h.addr), PC: uintptr(h.pc),
			Plugin: ss[0], Symbol: ss[1], Object: ss[2], Where: ss[3]}
	case statusHostPanic:
		fn, msg, _ := readStrings2(c.data, msgLen)
		var v any = msg
		if c.panicVal != nil {
			v, fn = c.panicVal, c.panicName
		} else if h.code == codeCallbackFreed {
			v = pcall.ErrCallbackFreed
		}
		return &pcall.HostPanicError{Func: fn, Value: v}
	case statusError:
		// Copied out of the shared memory before it is decoded: the
		// child may still be writing.
		if msgLen < 0 || msgLen > c.hostArea {
			c.p.kill("protocol")
			return fmt.Errorf("isolate: channel %d: an error reply of %d bytes, the area holds %d: %w", c.idx, msgLen, c.hostArea, ErrProtocol)
		}
		err, why := decodeError(bytes.Clone(c.data[:msgLen]))
		if why != nil {
			c.p.kill("protocol")
			return fmt.Errorf("isolate: channel %d: error reply: %v: %w", c.idx, why, ErrProtocol)
		}
		return err
	default:
		c.p.kill("protocol")
		return fmt.Errorf("isolate: channel %d: reply status %d from the child: %w", c.idx, st, ErrProtocol)
	}
}
