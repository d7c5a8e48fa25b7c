//go:build linux && amd64 && cgo

package isolate_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"syscall"
	"testing"

	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestExitStatusExact: however the plugin's process ends, the host's
// error names exactly that end, with a PID namespace (the plugin's
// process is pid 2 below a reaper, internal/childrt pidns.c, and the
// host waits for a third process that ends as it did) and without one.
// As the namespace's init the plugin's own SIGKILL and SIGTERM would be
// ignored, and the Go runtime's re-raised SIGSEGV would become exit 2.
func TestExitStatusExact(t *testing.T) {
	for _, ns := range []struct {
		name string
		pol  isolate.Policy
	}{{"pid-namespace", isolate.Policy{}}, {"no-namespaces", isolate.Policy{NoNamespaces: true}}} {
		t.Run(ns.name, func(t *testing.T) {
			l, iso := newLoader(t, loader.Options{}, isolate.Options{Policy: ns.pol, Stderr: io.Discard,
				Restart: isolate.RestartPolicy{Max: 100}})
			p := load(t, l, "isolate_faults")
			if got := slices.Contains(iso.Report().Namespaces, "pid"); got != (ns.name == "pid-namespace") {
				t.Fatalf("report %+v: PID namespace %v", iso.Report(), got)
			}
			for _, tt := range []struct {
				name   string
				fn     string
				args   []uint64
				status int
				signal syscall.Signal
			}{
				{"exit(7)", "do_exit", []uint64{7}, 7, 0},
				{"exit(0)", "do_exit", []uint64{0}, 0, 0},
				{"exit(255)", "do_exit", []uint64{255}, 255, 0},
				{"its own SIGKILL", "kill_self", nil, 0, syscall.SIGKILL},
				{"its own SIGTERM, default action", "raise_default", []uint64{uint64(syscall.SIGTERM)}, 0, syscall.SIGTERM},
				{"a fault outside any call", "thread_fault", nil, 0, syscall.SIGSEGV},
			} {
				t.Run(tt.name, func(t *testing.T) {
					pid := pidOf(t, p)
					_, err := fn(t, p, tt.fn).Call(context.Background(), tt.args...)
					var ee *isolate.ExitError
					if !errors.As(err, &ee) || ee.Status != tt.status || ee.Signal != tt.signal || ee.Pid != pid {
						t.Fatalf("%s: %v; want the child %d ended with status %d, signal %v", tt.fn, err, pid, tt.status, tt.signal)
					}
					if err := p.Restart(context.Background()); err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
}

// TestHostilePidScan: a plugin naming every pid up to 65536 with
// kill(pid, 0) and pidfd_open (no filter, which would stop both) finds
// one other process in its PID namespace, the reaper; the negative
// control, without namespaces, finds the machine's.
func TestHostilePidScan(t *testing.T) {
	for _, tt := range []struct {
		name string
		pol  isolate.Policy
		see  func(n uint64) bool
	}{
		{"pid namespace", isolate.Policy{NoSeccomp: true}, func(n uint64) bool { return n == 1 }},
		{"no namespaces (control)", isolate.Policy{NoSeccomp: true, NoNamespaces: true}, func(n uint64) bool { return n > 1 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: tt.pol})
			p := load(t, l, "hostile")
			n, err := call(t, p, "pid_scan", 1<<16)
			if err != nil || !tt.see(n) {
				t.Fatalf("pid_scan = %d, %v", n, err)
			}
			t.Logf("%d processes named", n)
		})
	}
}
