//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"errors"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// TestHostileHostCalls: what a hostile child writes for a host call or a
// callback (a handle out of range, a string or a stack copy or a result
// area outside the part of the channel kept for host calls, a misaligned
// stack copy) is refused with ErrProtocol before any Go function runs;
// well-formed messages run it.
func TestHostileHostCalls(t *testing.T) {
	ran := 0
	raw := func(a *pcall.Args) pcall.Result { ran++; return pcall.Result{Int: a.Int[0] + 1} }
	frame := func(a *pcall.Args, stack uintptr) pcall.Result { ran++; return pcall.Result{Int: 7} }
	r := &remote{hostFns: []wire.RemoteHostFunc{{Name: "f", Strings: 1 << 1, Call: raw}}, log: hclog.NewNullLogger()}
	regCB := &wire.RemoteCallback{RemoteHostFunc: wire.RemoteHostFunc{Name: "cb", Call: raw}}
	frameCB := &wire.RemoteCallback{RemoteHostFunc: wire.RemoteHostFunc{Name: "fcb", Frame: frame, StackSize: 24, SRetSize: 24}}
	for _, rc := range []*wire.RemoteCallback{regCB, frameCB} {
		if _, err := r.callbackID(rc); err != nil {
			t.Fatal(err)
		}
	}
	data := make([]byte, 8192)
	const hostArea = 8192 - 1024
	c := &hostChan{p: &proc{r: r}, h: new(chanHdr), data: data, hostArea: hostArea, priv: make([]byte, 2*1024+64)}
	str := func(off, n uint32) strDesc { return strDesc{off: off, n: n} }
	tests := []struct {
		name string
		set  func(h *chanHdr)
		ok   bool
	}{
		{"host function", func(h *chanHdr) { h.kind, h.handle, h.strs[1] = opHostCall, 0, str(hostArea, 3) }, true},
		{"host function out of range", func(h *chanHdr) { h.kind, h.handle = opHostCall, 1 }, false},
		{"string below the host-call area", func(h *chanHdr) { h.kind, h.handle, h.strs[1] = opHostCall, 0, str(0, 3) }, false},
		{"string past the channel", func(h *chanHdr) { h.kind, h.handle, h.strs[1] = opHostCall, 0, str(8190, 10) }, false},
		{"string length wraps", func(h *chanHdr) { h.kind, h.handle, h.strs[1] = opHostCall, 0, str(hostArea, 1<<32-1) }, false},
		{"callback", func(h *chanHdr) { h.kind, h.handle = opCallback, 0 }, true},
		{"callback out of range", func(h *chanHdr) { h.kind, h.handle = opCallback, 2 }, false},
		{"frame callback", func(h *chanHdr) { h.kind, h.handle, h.descOff, h.sretOff = opCallback, 1, hostArea, hostArea+64 }, true},
		{"frame callback stack below the area", func(h *chanHdr) { h.kind, h.handle, h.descOff, h.sretOff = opCallback, 1, 0, hostArea }, false},
		{"frame callback stack misaligned", func(h *chanHdr) { h.kind, h.handle, h.descOff, h.sretOff = opCallback, 1, hostArea+4, hostArea+64 }, false},
		{"frame callback result past the channel", func(h *chanHdr) { h.kind, h.handle, h.descOff, h.sretOff = opCallback, 1, hostArea, 8192-8 }, false},
	}
	for _, tt := range tests {
		*c.h = chanHdr{}
		tt.set(c.h)
		before := ran
		err := c.hostCall(false)
		switch {
		case tt.ok && (err != nil || ran != before+1 || c.h.status != statusOK):
			t.Errorf("%s: %v (ran %d), want the function run", tt.name, err, ran-before)
		case !tt.ok && (!errors.Is(err, ErrProtocol) || ran != before):
			t.Errorf("%s: %v (ran %d), want ErrProtocol before any call", tt.name, err, ran-before)
		}
	}
}
