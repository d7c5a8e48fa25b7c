//go:build linux && amd64 && cgo

package isolate

import (
	"context"
	"fmt"
	"math"
	"syscall"

	"github.com/runplug/runplug/loader"
	"github.com/runplug/runplug/sandbox"
)

// acquire takes the free channel released last, or fails when the child
// is dead. Last in, first out: the child's thread serving that channel is
// the one still spinning for its next request, so a goroutine calling in
// a loop finds it awake. (A queue hands every call to the channel idle
// longest, whose thread sleeps, and makes every idle thread spin.)
func (p *proc) acquire() (*hostChan, error) {
	if p.dead.Load() {
		return nil, p.exitErr
	}
	select {
	case <-p.nfree:
	default:
		select {
		case <-p.nfree:
		case <-p.done:
			return nil, p.exitErr
		}
	}
	p.freeMu.Lock()
	c := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.freeMu.Unlock()
	return c, nil
}

// release gives c back: on top of the stack, then its token.
func (p *proc) release(c *hostChan) {
	p.freeMu.Lock()
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
			return &DeadlineError{Plugin: p.r.name, Cause: err}
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
					return &DeadlineError{Plugin: p.r.name, Cause: ctx.Err()}
				}
			}
			return p.exitErr
		}
		c.seen = v
		switch h.kind {
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
			return fmt.Errorf("isolate: message kind %d: %w", h.kind, ErrProtocol)
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
	var fn loader.RemoteHostFunc
	var rc *loader.RemoteCallback
	if h.kind == opCallback {
		var ok bool
		if rc, ok = r.callbackByID(h.handle); !ok {
			return fmt.Errorf("isolate: callback %d: %w", h.handle, ErrProtocol)
		}
		fn = rc.RemoteHostFunc
	} else {
		if int(h.handle) >= len(r.hostFns) {
			return fmt.Errorf("isolate: host function %d: %w", h.handle, ErrProtocol)
		}
		fn = r.hostFns[h.handle]
		if fn.Frame != nil && h.cbFrame == 0 {
			// The child learns a host function's general form from its
			// first call, and sends it again with the stack arguments.
			h.status, h.nstack, h.sretSize = statusNeedFrame, fn.StackSize/8, fn.SRetSize
			return nil
		}
	}
	if fn.Frame != nil {
		call, err := c.frameCall(fn)
		if err != nil {
			return err
		}
		fn.Call = call
	}
	if rc != nil && r.released(h.handle) || fn.Call == nil {
		fn.Call = freedCallback
	}
	a := sandbox.Args{Int: h.ints, Float: h.floats}
	for j := 0; j < 6; j++ {
		if fn.Strings&(1<<j) == 0 {
			continue
		}
		d := h.strs[j]
		if int(d.off) < c.hostArea || uint64(d.off)+uint64(d.n) >= uint64(len(c.data)) {
			return fmt.Errorf("isolate: host function %s: string argument %d at %d+%d: %w", fn.Name, j, d.off, d.n, ErrProtocol)
		}
		c.data[d.off+d.n] = 0 // the child may have changed it since
		a.Int[j] = addrOf(c.data[d.off:])
	}
	res, pv := c.callNested(fn.Call, &a)
	if pv != nil {
		if upcall || h.foreign != 0 { // from a thread in no call: no call to end
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
	h.resRDX, h.resX1 = a.Int[1], math.Float64bits(a.Float[1]) // a 16-byte result's second eightbytes
	return nil
}

// frameCall returns rc's general form as a function of the registers:
// its stack arguments are the copy the child made at descOff and a
// MEMORY-class result goes to the area at sretOff (both checked to lie
// in the part of the data area kept for host calls, at the sizes the
// host knows), whose address replaces rdi.
func (c *hostChan) frameCall(rc loader.RemoteHostFunc) (loader.RawHostFunc, error) {
	h := c.h
	n := uint64(len(c.data))
	so, ro := uint64(h.descOff), uint64(h.sretOff)
	if so < uint64(c.hostArea) || so%8 != 0 || so+uint64(rc.StackSize) > n || ro < uint64(c.hostArea) || ro+uint64(rc.SRetSize) > n {
		return nil, fmt.Errorf("isolate: callback %s: stack copy at %d, result at %d: %w", rc.Name, so, ro, ErrProtocol)
	}
	var stack uintptr
	if rc.StackSize > 0 {
		stack = uintptr(addrOf(c.data[so:]))
	}
	var sret uint64
	if rc.SRetSize > 0 {
		sret = addrOf(c.data[ro:])
	}
	frame := rc.Frame
	return func(a *sandbox.Args) sandbox.Result {
		if sret != 0 {
			a.Int[0] = sret
		}
		return frame(a, stack)
	}, nil
}

// callHost calls a host function, recovering its panic.
func callHost(fn loader.RawHostFunc, a *sandbox.Args) (r sandbox.Result, pv any) {
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
	switch h.status {
	case statusOK:
		return nil
	case statusFault:
		ss, _ := readStrings(c.data, int(h.msgLen), 4)
		for len(ss) < 4 {
			ss = append(ss, "")
		}
		return &sandbox.FaultError{Signal: syscall.Signal(h.sig), Code: h.fcode, Addr: uintptr(h.addr), PC: uintptr(h.pc),
			Plugin: ss[0], Symbol: ss[1], Object: ss[2], Where: ss[3]}
	case statusHostPanic:
		fn, msg, _ := readStrings2(c.data, int(h.msgLen))
		var v any = msg
		if c.panicVal != nil {
			v, fn = c.panicVal, c.panicName
		} else if h.code == codeCallbackFreed {
			v = sandbox.ErrCallbackFreed
		}
		return &sandbox.HostPanicError{Func: fn, Value: v}
	}
	msg, _, _ := readStrings2(c.data, int(h.msgLen))
	return &RemoteError{Msg: msg, Err: sentinel(h.code)}
}
