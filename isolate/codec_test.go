//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/wire"
)

func sampleRequest() request {
	return request{
		Path: "/p/plugin.so", Name: "plugin", Image: []byte{0x7f, 'E', 'L', 'F'},
		Loader: wire.ChildOptions{SearchPath: []string{"/a", "/b"}, GuardSize: 4096, NoHostC: true,
			AllowC: []string{"puts"}, AllowWriteExec: true},
		Host:       []hostFunc{{"log", 1}, {"now", 0}},
		Syms:       []symKey{{"add", ""}, {"f", "V1"}},
		Policy:     Policy{Allow: []string{"socket"}, AllowOpen: true, Memory: 1 << 30, CPUTime: 3 * time.Second, NoNamespaces: true},
		LoadFilter: []unix.SockFilter{{Code: 0x20, K: 4}, {Code: 0x06, Jt: 1, Jf: 2, K: 0x7fff0000}},
		RunFilter:  []unix.SockFilter{{Code: 0x06, K: 0x7fff0000}},
		State: &stateReq{Name: "/s/plugin.state", Slot: wire.StateSlot{Off: 8192, Size: 4096, TypeSize: 32, Version: 2},
			From: &wire.StateSlot{Off: 4096, Size: 4096, TypeSize: 16, Version: 1}},
	}
}

func sampleReply() reply {
	return reply{Name: "plugin", Err: []byte{kindSentinel, 3, 0}, Seccomp: true, NSFlags: 0x7e020000, NSErr: "unshare: EPERM",
		Syms: []symReply{{Addr: 0x7f0000001000, Size: 16, Func: true}, {Addr: 8, Version: "V1"}}}
}

// TestCodecRoundTrip: what marshal writes, unmarshal reads back the same,
// and every shorter prefix (or a longer input) is refused.
func TestCodecRoundTrip(t *testing.T) {
	req, rep := sampleRequest(), sampleReply()
	var req2 request
	var rep2 reply
	for _, tt := range []struct {
		name     string
		b        []byte
		decode   func([]byte) error
		got, exp any
	}{
		{"request", req.marshal(), func(b []byte) error { req2 = request{}; return req2.unmarshal(b) }, &req2, &req},
		{"reply", rep.marshal(), func(b []byte) error { rep2 = reply{}; return rep2.unmarshal(b) }, &rep2, &rep},
	} {
		if err := tt.decode(tt.b); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !reflect.DeepEqual(tt.got, tt.exp) {
			t.Errorf("%s: got %+v, want %+v", tt.name, tt.got, tt.exp)
		}
		for n := range len(tt.b) {
			if err := tt.decode(tt.b[:n]); err == nil {
				t.Errorf("%s: %d of %d bytes accepted", tt.name, n, len(tt.b))
			}
		}
		if err := tt.decode(append(bytes.Clone(tt.b), 0)); err == nil {
			t.Errorf("%s: a trailing byte accepted", tt.name)
		}
	}
}

// FuzzReply: the host decodes what a possibly hostile child wrote: any
// bytes give a reply or an error, never a panic or an allocation larger
// than the input allows, and an accepted reply encodes back to the input.
func FuzzReply(f *testing.F) {
	rep := sampleReply()
	f.Add(rep.marshal())
	f.Add((&reply{Err: encodeError(errors.New("isolate: reply too large"), maxLoadError)}).marshal())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r reply
		if err := r.unmarshal(b); err != nil {
			return
		}
		if len(r.Syms) > len(b)/21 {
			t.Fatalf("%d symbols from %d bytes", len(r.Syms), len(b))
		}
		if got := r.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, input %x", got, b)
		}
	})
}
