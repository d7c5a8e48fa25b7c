//go:build linux && amd64 && cgo

package isolate

import (
	"fmt"
	"sync/atomic"

	"github.com/runplug/runplug/loader"
)

// The plugin's memory, read and written for the host (Plugin.ReadMemory,
// WriteMemory, ReadString): what the pointers an isolated plugin passes
// point to. A request goes on a free channel, served by that channel's
// thread in the child while the call that handed out the pointer (a
// callback's) waits on its own, in pieces of the channel's data area.

// ReadMemory implements loader.Remote.
func (r *remote) ReadMemory(addr uint64, dst []byte, toNUL bool) (int, error) {
	return r.memory(addr, dst, true, toNUL)
}

// WriteMemory implements loader.Remote.
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
			break
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

var _ loader.Remote = (*remote)(nil)
