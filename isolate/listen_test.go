//go:build linux && amd64 && cgo

package isolate

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// TestNoListener: a host that cannot take its child's seccomp listener
// keeps the trap of before: a call made with SIGSYS blocked kills the
// child unnamed, and the error says why; clone3 is answered ENOSYS (so
// pthread_create still works), whatever its flags; with SIGSYS free the
// SIGSYS handler names the call.
func TestNoListener(t *testing.T) {
	refuseListener = "refused by the test"
	t.Cleanup(func() { refuseListener = "" })
	so := plugintest.Build(t, "hostile")
	for _, tt := range []struct {
		fn      string
		want    int64  // the result, when trapped is ""
		trapped string // the SyscallError's Name
	}{
		{fn: "spawn_thread", want: 42},
		{fn: "raw_clone3", want: -int64(unix.ENOSYS)},
		{fn: "do_fork", trapped: "clone"},
		{fn: "fork_sigsys_blocked", trapped: "(unknown: trapped with SIGSYS blocked; no seccomp listener: pidfd_open: refused by the test)"},
	} {
		t.Run(tt.fn, func(t *testing.T) {
			iso := New(Options{})
			l := loader.New(loader.Options{Isolation: iso})
			t.Cleanup(func() { l.Close(context.Background()) })
			p, err := l.Load(context.Background(), so)
			if err != nil {
				t.Fatal(err)
			}
			r, err := fnOf(t, p, tt.fn).Call(context.Background())
			if tt.trapped == "" {
				if err != nil || int64(r) != tt.want {
					t.Fatalf("%s = %d, %v; want %d", tt.fn, int64(r), err, tt.want)
				}
				return
			}
			var se *SyscallError
			if !errors.As(err, &se) || se.Name != tt.trapped {
				t.Fatalf("%s = %d, %v; want the child stopped at %s", tt.fn, int64(r), err, tt.trapped)
			}
		})
	}
}

// TestListenerLost: a host that fails to take the listener its child
// installed starts another child, which degrades from the start, and so
// do the next ones: the load works, and a call only the run phase
// forbids, made with every signal blocked, kills the child with the
// reason in the error.
func TestListenerLost(t *testing.T) {
	failTake = "failed by the test"
	t.Cleanup(func() { failTake = ""; listenLost.Store(nil) })
	so := plugintest.Build(t, "hostile")
	for range 2 {
		l := loader.New(loader.Options{Isolation: New(Options{})})
		t.Cleanup(func() { l.Close(context.Background()) })
		p, err := l.Load(context.Background(), so)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fnOf(t, p, "memfd_blocked").Call(context.Background())
		var se *SyscallError
		if want := "(unknown: trapped with SIGSYS blocked; no seccomp listener: failed by the test)"; !errors.As(err, &se) || se.Name != want {
			t.Fatalf("memfd_blocked: %v; want %s", err, want)
		}
	}
}

// TestDegrade: without a listener, every call the load filter sends to
// it traps, but clone3, which is answered ENOSYS, and the phase calls,
// allowed (the run filter traps them); nothing else changes.
func TestDegrade(t *testing.T) {
	load, _, err := filters(1234, childUID(1234), Policy{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[uint32]int{}
	for _, in := range load {
		if in.Code == bpfRetK && in.K&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_USER_NOTIF {
			count[in.K]++
		}
	}
	forbid := count[unix.SECCOMP_RET_USER_NOTIF] + count[uint32(notifyMarker)]
	if forbid == 0 || count[uint32(notifyClone3)] != 1 || count[uint32(notifyPhase)] == 0 || count[uint32(notifyMarker)] != 1 {
		t.Fatalf("load filter's returns to the listener: %v; want some of each, one clone3 and one marker", count)
	}
	d := degrade(load)
	var traps, enosys, allow int
	for i, in := range d {
		switch {
		case in.Code == bpfRetK && in.K&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_USER_NOTIF:
			t.Errorf("instruction %d still returns to the listener", i)
		case load[i] == in:
		case in.K == unix.SECCOMP_RET_TRAP:
			traps++
		case in.K == unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS):
			enosys++
		case in.K == unix.SECCOMP_RET_ALLOW:
			allow++
		default:
			t.Errorf("instruction %d: %+v, was %+v", i, in, load[i])
		}
	}
	if traps != forbid || enosys != 1 || allow != count[uint32(notifyPhase)] {
		t.Errorf("degraded: %d traps, %d ENOSYS, %d allowed; want %d, 1, %d", traps, enosys, allow, forbid, count[uint32(notifyPhase)])
	}
}

// TestCloneFlagNames: clone's exit signal is its low byte, clone3's is not.
func TestCloneFlagNames(t *testing.T) {
	for _, tt := range []struct {
		f      uint64
		clone3 bool
		want   string
	}{
		{unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD), false, "CLONE_VM|CLONE_VFORK|SIGCHLD"},
		{unix.CLONE_VM | unix.CLONE_VFORK, true, "CLONE_VM|CLONE_VFORK"},
		{unix.CLONE_NEWTIME, true, "CLONE_NEWTIME"},
		{0, true, "0x0"},
		{1 << 40, true, "0x10000000000"},
		{unix.CLONE_THREAD | 200, false, "CLONE_THREAD|signal 200"},
	} {
		if got := cloneFlagNames(tt.f, tt.clone3); got != tt.want || strings.Contains(got, "||") {
			t.Errorf("cloneFlagNames(%#x, %v) = %q, want %q", tt.f, tt.clone3, got, tt.want)
		}
	}
}

// TestListenerEnds: each child's listener goroutine ends with the child,
// whether a forbidden call killed it or Close ended it, a spare's too.
func TestListenerEnds(t *testing.T) {
	so := plugintest.Build(t, "hostile")
	iso := New(Options{Spare: true})
	l := loader.New(loader.Options{Isolation: iso})
	for _, fn := range []string{"fork_sigsys_blocked", "spawn_thread"} {
		p, err := l.Load(context.Background(), so)
		if err != nil {
			t.Fatal(err)
		}
		fnOf(t, p, fn).Call(context.Background())
	}
	if err := iso.Prestart(); err != nil {
		t.Fatal(err)
	}
	if n := listeners(); n == 0 {
		t.Fatal("no listener goroutine while children run")
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := iso.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := listeners(); n != 0 {
		t.Fatalf("%d listener goroutines left after Close", n)
	}
}

// listeners counts the goroutines running a listener.
func listeners() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "isolate.(*listener).run(")
}
