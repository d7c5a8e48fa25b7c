//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"unsafe"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/loader"
)

// hdrFields is where the fields of a channel's header that the child
// writes start (after the two futex lines).
const hdrFields = 128

// FuzzHostReply: whatever the child leaves in a channel's header and data
// area (a reply, a host call, a callback of either form), the host's
// handling (hostCall, replyErr) never panics, never lets a Go function
// see memory outside the channel's private copies, and answers with a
// result or an error that has a message; a host call it refuses is a
// protocol error. Seeds: well-formed messages of each kind and the
// malformed ones of TestHostileHostCalls (testdata/fuzz/FuzzHostReply).
func FuzzHostReply(f *testing.F) {
	for _, s := range hostReplySeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		c := fuzzChan(t)
		hdr := unsafe.Slice((*byte)(unsafe.Pointer(c.h)), unsafe.Sizeof(*c.h))
		n := copy(hdr[hdrFields:], msg)
		copy(c.data, msg[n:])
		switch c.h.kind {
		case opHostCall, opCallback:
			if err := c.hostCall(false); err != nil && (!errors.Is(err, ErrProtocol) || err.Error() == "") {
				t.Fatalf("host call refused with %v, want a protocol error", err)
			}
		default:
			if err := c.replyErr(); err != nil && err.Error() == "" {
				t.Fatalf("reply error %T with no message", err)
			}
		}
	})
}

// fuzzChan is a channel over Go memory with a host function of each form
// (a string argument; stack arguments and a result in memory) and two
// callbacks, whose functions check that every address they are given is
// in the private area, NUL-terminated there for a string.
func fuzzChan(t *testing.T) *hostChan {
	const size, hostArea = 8192, 8192 - 1024
	priv := make([]byte, 2*1024+64)
	in := func(addr uint64, n int) bool {
		base := uint64(uintptr(unsafe.Pointer(&priv[0])))
		return addr >= base && addr+uint64(n) <= base+uint64(len(priv))
	}
	str := func(a *pcall.Args) pcall.Result {
		p := a.Int[1]
		base := uint64(uintptr(unsafe.Pointer(&priv[0])))
		if !in(p, 1) {
			t.Fatalf("string argument at %#x, outside the private area", p)
		}
		for i := p - base; ; i++ {
			if i >= uint64(len(priv)) {
				t.Fatal("string argument not terminated in the private area")
			}
			if priv[i] == 0 {
				return pcall.Result{Int: i - (p - base)}
			}
		}
	}
	frame := func(a *pcall.Args, stack uintptr) pcall.Result {
		if !in(uint64(stack), 24) || !in(a.Int[0], 24) {
			t.Fatalf("stack copy at %#x, result at %#x: outside the private area", stack, a.Int[0])
		}
		return pcall.Result{Int: 7}
	}
	r := &remote{name: "fuzz.so", log: hclog.NewNullLogger(), hostFns: []wire.RemoteHostFunc{
		{Name: "f", Strings: 1 << 1, Call: str},
		{Name: "g", Frame: frame, StackSize: 24, SRetSize: 24},
	}}
	for _, rc := range []*wire.RemoteCallback{
		{RemoteHostFunc: wire.RemoteHostFunc{Name: "cb", Strings: 1 << 1, Call: str}},
		{RemoteHostFunc: wire.RemoteHostFunc{Name: "fcb", Frame: frame, StackSize: 24, SRetSize: 24}},
	} {
		if _, err := r.callbackID(rc); err != nil {
			t.Fatal(err)
		}
	}
	p := &proc{r: r, iso: &Isolator{log: hclog.NewNullLogger()}}
	return &hostChan{p: p, h: new(chanHdr), data: make([]byte, size), hostArea: hostArea, priv: priv}
}

// hostReplySeeds are messages of each kind, well-formed and not: the
// header's fields from hdrFields on, then the data area's first bytes.
func hostReplySeeds() [][]byte {
	const hostArea = 8192 - 1024
	var out [][]byte
	msg := func(set func(h *chanHdr), data ...byte) {
		h := new(chanHdr)
		set(h)
		b := unsafe.Slice((*byte)(unsafe.Pointer(h)), unsafe.Sizeof(*h))[hdrFields:]
		out = append(out, append(append([]byte(nil), b...), data...))
	}
	text := binary.LittleEndian.AppendUint32(nil, 4)
	text = append(text, "boom"...)
	msg(func(h *chanHdr) { h.kind, h.handle, h.strs[1] = opHostCall, 0, strDesc{off: hostArea, n: 3} })
	msg(func(h *chanHdr) { h.kind, h.handle, h.strs[1] = opHostCall, 0, strDesc{off: 8190, n: 10} })
	msg(func(h *chanHdr) { h.kind, h.handle, h.strs[1] = opHostCall, 0, strDesc{off: hostArea, n: 1<<32 - 1} })
	msg(func(h *chanHdr) {
		h.kind, h.handle, h.cbFrame, h.descOff, h.sretOff = opHostCall, 1, 1, hostArea, hostArea+64
	})
	msg(func(h *chanHdr) { h.kind, h.handle, h.strs[1] = opCallback, 0, strDesc{off: hostArea + 8, n: 0} })
	msg(func(h *chanHdr) { h.kind, h.handle, h.descOff, h.sretOff = opCallback, 1, hostArea, hostArea+64 })
	msg(func(h *chanHdr) { h.kind, h.handle, h.descOff, h.sretOff = opCallback, 1, hostArea+4, 8192-8 })
	msg(func(h *chanHdr) { h.kind, h.status = opResult, statusOK })
	msg(func(h *chanHdr) { h.kind, h.status, h.msgLen = opResult, statusFault, uint32(len(text)) }, text...)
	msg(func(h *chanHdr) { h.kind, h.status, h.msgLen = opResult, statusHostPanic, 1<<20 }, text...)
	typed := encodeError(fmt.Errorf("loader: load x.so: %w", &loader.RefusedError{Path: "/x.so",
		Err: &loader.NotFoundError{Name: "y.so", Tried: []string{"/a/y.so"}}}), hostArea)
	msg(func(h *chanHdr) { h.kind, h.status, h.msgLen = opResult, statusError, uint32(len(typed)) }, typed...)
	msg(func(h *chanHdr) { h.kind, h.status, h.msgLen = opResult, statusError, 1<<20 }, typed...)
	msg(func(h *chanHdr) { h.kind, h.status, h.msgLen = opResult, statusError, uint32(len(text)) }, text...)
	msg(func(h *chanHdr) { h.kind, h.status = opResult, statusError })
	msg(func(h *chanHdr) { h.kind, h.status = opResult, 77 })
	return out
}
