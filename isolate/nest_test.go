//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// nest is a Loader with the iso_nest plugin whose host function and
// callback call the plugin again, one level less deep each time, through
// next (set by each test).
type nest struct {
	p    *loader.Plugin
	next *loader.Func
	cb   *loader.Callback
	ctx  func(depth int64) context.Context // the context of the call made at depth
	errs []error                           // the errors nested calls got
}

// call is the body of host_nest and of the callback: at depth 0 it
// returns 0, else it calls next with depth-1 (and the callback's address
// when next takes one).
func (n *nest) call(depth int64, withCB bool) int64 {
	if depth == 0 {
		return 0
	}
	a := pcall.Args{Int: [6]uint64{uint64(depth - 1)}}
	if withCB {
		a.Int[0], a.Int[1] = uint64(n.cb.Ptr()), uint64(depth-1)
	}
	r, err := n.next.Call(n.ctx(depth-1), a.Int[:2]...)
	if err != nil {
		n.errs = append(n.errs, err)
		return -1000
	}
	return int64(r)
}

func newNest(t *testing.T, l *loader.Loader) *nest {
	t.Helper()
	n := &nest{}
	if _, err := l.RegisterHostFunc("host_nest", func(d int64) int64 { return n.call(d, false) }); err != nil {
		t.Fatal(err)
	}
	cb, err := loader.NewCallback(func(d int64) int64 { return n.call(d, true) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cb.Release)
	n.cb = cb
	n.p = load(t, l, "iso_nest")
	// The deadline only turns a deadlock into a failure.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	n.ctx = func(int64) context.Context { return ctx }
	return n
}

// run calls fn(depth) (with the callback first when withCB) on the
// plugin, each nested level calling fn again.
func (n *nest) run(t *testing.T, fnName string, withCB bool, depth int64) (int64, error) {
	t.Helper()
	n.next = fn(t, n.p, fnName)
	a := pcall.Args{Int: [6]uint64{uint64(depth)}}
	if withCB {
		a.Int[0], a.Int[1] = uint64(n.cb.Ptr()), uint64(depth)
	}
	r, err := n.next.Call(n.ctx(depth), a.Int[:2]...)
	return int64(r), err
}

// nestWays are the four ways a plugin call nests: in a host function or a
// callback, called on the thread the host called or on one of the
// plugin's own.
var nestWays = []struct {
	fn     string
	withCB bool
}{
	{"nest_host", false},
	{"nest_cb", true},
	{"nest_host_thread", false},
	{"nest_cb_thread", true},
}

// TestNestedDepth40: plugin calls nested 40 deep in host functions and in
// callbacks, from the calling thread and from the plugin's threads, give
// the same result in process and isolated (where each level takes a
// channel beyond the pool of 4, instead of waiting for the pool forever).
func TestNestedDepth40(t *testing.T) {
	const depth = 40
	boundaryBothWays(t, func(t *testing.T, l *loader.Loader) {
		n := newNest(t, l)
		for _, w := range nestWays {
			n.errs = nil
			got, err := n.run(t, w.fn, w.withCB, depth)
			if err != nil || got != depth+1 || len(n.errs) > 0 {
				t.Errorf("%s(%d) = %d, %v (nested errors %v); want %d", w.fn, depth, got, err, n.errs, depth+1)
			}
		}
	})
}

// TestNestedCancelled: a call 20 deep in the nest whose context is
// cancelled fails with the deadline error and no other level does: each
// outer level gets its result, and the plugin serves the next call.
func TestNestedCancelled(t *testing.T) {
	for _, isolated := range []bool{false, true} {
		t.Run(fmt.Sprint("isolated=", isolated), func(t *testing.T) {
			lo := loader.Options{KeepAfterFault: true}
			var l *loader.Loader
			if isolated {
				l, _ = newBoundaryLoader(t, lo, isolate.Options{})
			} else {
				l = loader.New(lo)
				t.Cleanup(func() { l.Close(context.Background()) })
			}
			n := newNest(t, l)
			live := n.ctx(0)
			cancelled, cancel := context.WithCancel(context.Background())
			cancel()
			const depth, at = 30, 20
			n.ctx = func(d int64) context.Context {
				if d == at {
					return cancelled
				}
				return live
			}
			for _, w := range nestWays {
				n.errs = nil
				got, err := n.run(t, w.fn, w.withCB, depth)
				// Levels above the cancelled call add 1 each to its -1000.
				want := int64(-1000 + depth - at)
				if err != nil || got != want {
					t.Errorf("%s(%d) = %d, %v; want %d", w.fn, depth, got, err, want)
				}
				if len(n.errs) != 1 || !errors.Is(n.errs[0], loader.ErrDeadline) && !errors.Is(n.errs[0], context.Canceled) {
					t.Errorf("%s: nested errors %v, want one deadline error", w.fn, n.errs)
				}
			}
			n.ctx = func(int64) context.Context { return live }
			if got, err := n.run(t, "nest_host", false, 3); err != nil || got != 4 {
				t.Errorf("after the cancelled nest: nest_host(3) = %d, %v; want 4", got, err)
			}
		})
	}
}

// TestNestedTooDeep: isolated, a nest deeper than the channels the child
// has fails at the level that finds none with ErrTooDeep, naming the
// count, instead of waiting forever; the levels above return, and the
// plugin serves the next call.
func TestNestedTooDeep(t *testing.T) {
	// A failed call quarantines the plugin (as ErrBufferTooLarge does)
	// unless KeepAfterFault.
	l, _ := newLoader(t, loader.Options{KeepAfterFault: true}, isolate.Options{})
	n := newNest(t, l)
	got, err := n.run(t, "nest_host", false, 100)
	if err != nil || got >= 0 {
		t.Fatalf("nest_host(100) = %d, %v; want a negative result from the level that failed", got, err)
	}
	if len(n.errs) != 1 || !errors.Is(n.errs[0], isolate.ErrTooDeep) {
		t.Fatalf("nested errors %v, want one ErrTooDeep", n.errs)
	}
	t.Logf("deepest level: %v", n.errs[0])
	if got, err := n.run(t, "nest_host", false, 3); err != nil || got != 4 {
		t.Errorf("after ErrTooDeep: nest_host(3) = %d, %v; want 4", got, err)
	}
}
