//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestBackends: each of a Plugin's three backends (a plugin loaded in
// process, one of the host's glibc libraries, an isolated plugin) answers
// the Plugin's lifecycle the same way where it can and with a typed
// refusal where it cannot: Isolated, Pid, Restart (ErrUnsupported in the
// host's address space), a call, Close twice, and ErrClosed after.
func TestBackends(t *testing.T) {
	ctx := context.Background()
	inproc := loader.New(loader.Options{})
	t.Cleanup(func() { inproc.Close(context.Background()) })
	iso, _ := newLoader(t, loader.Options{}, isolate.Options{})
	tests := []struct {
		name     string
		l        *loader.Loader
		path     string
		fn       string
		args     []uint64
		want     uint64
		isolated bool
	}{
		{"in process", inproc, "", "sym_func", []uint64{2}, 7, false},
		{"host libc", inproc, "libc.so.6", "labs", []uint64{7}, 7, false},
		{"isolated", iso, "", "sym_func", []uint64{2}, 7, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p *loader.Plugin
			if tc.path == "" {
				p = load(t, tc.l, "symbols")
			} else {
				var err error
				if p, err = tc.l.Load(context.Background(), tc.path); err != nil {
					t.Fatal(err)
				}
			}
			if p.Isolated() != tc.isolated || (isolate.Pid(p) != 0) != tc.isolated {
				t.Errorf("Isolated = %v, Pid = %d; want isolated %v", p.Isolated(), isolate.Pid(p), tc.isolated)
			}
			if r, err := call(t, p, tc.fn, tc.args...); err != nil || r != tc.want {
				t.Errorf("%s = %d, %v; want %d", tc.fn, r, err, tc.want)
			}
			err := p.Restart(ctx)
			if tc.isolated && err != nil || !tc.isolated && !errors.Is(err, loader.ErrUnsupported) {
				t.Errorf("Restart = %v", err)
			}
			if r, err := call(t, p, tc.fn, tc.args...); err != nil || r != tc.want {
				t.Errorf("%s after Restart = %d, %v", tc.fn, r, err)
			}
			f := fn(t, p, tc.fn)
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Errorf("second Close = %v", err)
			}
			if _, err := f.Call(ctx, tc.args...); !errors.Is(err, loader.ErrClosed) {
				t.Errorf("call after Close = %v, want ErrClosed", err)
			}
			if _, err := p.Lookup(tc.fn); !errors.Is(err, loader.ErrClosed) {
				t.Errorf("Lookup after Close = %v, want ErrClosed", err)
			}
			if err := p.Restart(ctx); err == nil {
				t.Error("Restart after Close succeeded")
			}
		})
	}
}
