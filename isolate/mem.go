//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/loader"
)

// The plugin's memory, read and written for the host (Plugin.ReadMemory,
// WriteMemory, ReadString): what the pointers an isolated plugin passes
// point to. A request goes on a free channel, served by that channel's
// thread in the child while the call that handed out the pointer (a
// callback's) waits on its own, in pieces of the channel's data area.

// ReadMemory implements wire.Remote.
func (r *remote) ReadMemory(addr uint64, dst []byte, toNUL bool) (int, error) {
	return r.memory(addr, dst, true, toNUL)
}

// WriteMemory implements wire.Remote.
func (r *remote) WriteMemory(addr uint64, src []byte) error {
	_, err := r.memory(addr, src, false, false)
	return err
}

// memory copies buf from (read) or to the child's memory at addr.
func (r *remote) memory(addr uint64, buf []byte, read, toNUL bool) (int, error) {
	p := r.cur.Load()
	c, err := p.acquire(nil) // nested in a host function: a channel beyond the pool

	if err != nil {
		return 0, err
	}
	defer p.release(c)
	h := c.h
	done := 0
	for done < len(buf) {
		n := min(len(buf)-done, c.hostArea)
		h.kind = opMemRead
		if !read {
			h.kind = opMemWrite
			copy(c.data[:n], buf[done:done+n])
		}
		h.ints[0], h.ints[1], h.ints[2] = addr+uint64(done), uint64(n), 0
		if toNUL {
			h.ints[2] = 1
		}
		if err := c.roundTrip(nil); err != nil {
			return done, err
		}
		if err := c.replyErr(); err != nil {
			return done, err
		}
		if !read {
			done += n
			continue
		}
		res := atomic.LoadUint64(&h.resInt)
		if res > uint64(n) {
			p.kill("protocol")
			return done, fmt.Errorf("isolate: read of %d bytes of the plugin's memory: the child says %d: %w", n, res, ErrProtocol)
		}
		got := int(res)
		copy(buf[done:], c.data[:got])
		done += got
		if toNUL && got > 0 && buf[done-1] == 0 {
			break // the string's NUL, in the host's copy
		}
		if got < n {
			// Fewer bytes than asked, with no NUL to end them: no
			// honest child answers so (an unreadable byte is an
			// error), and taking it would let one hold the host in
			// this loop forever.
			p.kill("protocol")
			return done, fmt.Errorf("isolate: read of %d bytes of the plugin's memory: the child gave %d and no NUL: %w", n, got, ErrProtocol)
		}
	}
	return done, nil
}

// memOp serves opMemRead or opMemWrite in the child.
func (ch *childChan) memOp(read bool) {
	h := ch.h
	addr, n, toNUL := h.ints[0], h.ints[1], h.ints[2] != 0
	if n > uint64(ch.hostArea) {
		ch.fail(fmt.Errorf("isolate: %d bytes of memory at %#x: more than the channel's %d: %w", n, addr, ch.hostArea, ErrBufferTooLarge))
		return
	}
	got, err := copyNative(ch.data[:n], addr, read, toNUL)
	if err != nil {
		ch.fail(err)
		return
	}
	h.resInt = uint64(got)
}

var _ wire.Remote = (*remote)(nil)

// maxSymbols bounds the symbols a child may report: a count above it is
// a hostile child's, not a plugin's.
const maxSymbols = 1 << 20

// Alloc implements wire.Remote: malloc runs in the child.
func (r *remote) Alloc(ctx context.Context, n uint64) (uint64, error) {
	var addr uint64
	err := r.allocOp(ctx, opAlloc, n, func(h *chanHdr) { addr = atomic.LoadUint64(&h.resInt) })
	return addr, err
}

// Free implements wire.Remote: free runs in the child.
func (r *remote) Free(ctx context.Context, addr uint64) error {
	return r.allocOp(ctx, opFree, addr, nil)
}

// allocOp sends opAlloc or opFree with argument v and hands the reply's
// header to done.
func (r *remote) allocOp(ctx context.Context, kind uint32, v uint64, done func(*chanHdr)) error {
	p := r.cur.Load()
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer p.release(c)
	h := c.h
	h.kind = kind
	h.ints[0] = v
	if err := c.roundTrip(ctx); err != nil {
		return err
	}
	if err := c.replyErr(); err != nil {
		return err
	}
	if done != nil {
		done(h)
	}
	return nil
}

// Symbols implements wire.Remote: the child lists them, a data area's
// worth per round trip. Every count and length it writes is checked
// before use: a child cannot make the host allocate or read beyond what
// the channel holds.
func (r *remote) Symbols() ([]wire.RemoteSymbol, error) {
	p := r.cur.Load()
	c, err := p.acquire(nil)
	if err != nil {
		return nil, err
	}
	defer p.release(c)
	h := c.h
	var out []wire.RemoteSymbol
	total := -1
	for total < 0 || len(out) < total {
		h.kind = opSymbols
		h.ints[0] = uint64(len(out))
		if err := c.roundTrip(nil); err != nil {
			return nil, err
		}
		if err := c.replyErr(); err != nil {
			return nil, err
		}
		all, n := atomic.LoadUint64(&h.resInt), atomic.LoadUint64(&h.resRDX)
		msgLen := uint64(atomic.LoadUint32(&h.msgLen))
		switch {
		case all > maxSymbols || total >= 0 && all != uint64(total):
			p.kill("protocol")
			return nil, fmt.Errorf("isolate: symbols: the child says %d in all: %w", all, ErrProtocol)
		case n > all-uint64(len(out)) || n == 0 && uint64(len(out)) < all:
			p.kill("protocol")
			return nil, fmt.Errorf("isolate: symbols: the child sends %d from %d of %d: %w", n, len(out), all, ErrProtocol)
		case msgLen > uint64(c.hostArea):
			p.kill("protocol")
			return nil, fmt.Errorf("isolate: symbols: %d bytes, more than the channel's %d: %w", msgLen, c.hostArea, ErrProtocol)
		}
		total = int(all)
		// Copy, then decode: the child may still be writing.
		d := decoder{b: append([]byte(nil), c.data[:msgLen]...)}
		for i := uint64(0); i < n; i++ {
			s := wire.RemoteSymbol{Name: d.str(), Version: d.str(), Addr: d.u64(), Size: d.u64(), Func: d.bool()}
			if d.err != nil {
				p.kill("protocol")
				return nil, fmt.Errorf("isolate: symbols: entry %d: %w: %w", len(out), d.err, ErrProtocol)
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// allocOp serves opAlloc and opFree in the child, with the plugin's C
// allocator (the host bounds the time: a deadline kills the child).
func (ch *childChan) allocOp(alloc bool) {
	h := ch.h
	ctx := context.Background()
	if !alloc {
		if err := ch.c.p.Free(ctx, uintptr(h.ints[0])); err != nil {
			ch.fail(err)
		}
		return
	}
	if h.ints[0] > math.MaxInt {
		ch.fail(fmt.Errorf("isolate: malloc(%d): %w", h.ints[0], loader.ErrNoMemory))
		return
	}
	addr, err := ch.c.p.Alloc(ctx, int(h.ints[0]))
	if err != nil {
		ch.fail(err)
		return
	}
	h.resInt = uint64(addr)
}

// symbolsOp serves opSymbols in the child: from index ints[0], as many
// as fit in the data area.
func (ch *childChan) symbolsOp() {
	c, h := ch.c, ch.h
	c.lookMu.Lock()
	if c.exports == nil {
		syms, err := c.p.Symbols()
		if err != nil {
			c.lookMu.Unlock()
			ch.fail(err)
			return
		}
		c.exports = append(syms, []loader.Symbol{}...) // not nil: listed
	}
	syms := c.exports
	c.lookMu.Unlock()
	from := min(h.ints[0], uint64(len(syms)))
	var e encoder
	n := 0
	for _, s := range syms[from:] {
		before := len(e.b)
		e.str(s.Name)
		e.str(s.Version)
		e.u64(uint64(s.Addr))
		e.u64(s.Size)
		e.bool(s.Func)
		if len(e.b) > ch.hostArea {
			e.b = e.b[:before]
			break
		}
		n++
	}
	if n == 0 && int(from) < len(syms) {
		ch.fail(fmt.Errorf("isolate: symbol %q: its name does not fit in the channel's %d bytes: %w", syms[from].Name, ch.hostArea, ErrBufferTooLarge))
		return
	}
	copy(ch.data, e.b)
	h.msgLen = uint32(len(e.b))
	h.resInt, h.resRDX = uint64(len(syms)), uint64(n)
}
