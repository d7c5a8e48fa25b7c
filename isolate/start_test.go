//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// netNS names the network namespace of a process or thread ("" if gone).
func netNS(t *testing.T, path string) string {
	t.Helper()
	ns, err := os.Readlink(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ns
}

// TestSharedNetNamespace: children whose policy forbids sockets share one
// empty network namespace, not the host's (when the host may make one:
// the report says "net-shared"; else each child has its own); a policy
// that allows socket gets a namespace of its own; and the host's main
// thread, which /proc/PID shows, stays in the host's namespace.
func TestSharedNetNamespace(t *testing.T) {
	runtime.LockOSThread()
	host := netNS(t, "/proc/thread-self/ns/net")
	runtime.UnlockOSThread()

	l, iso := newLoader(t, loader.Options{}, isolate.Options{})
	a, b := pidOf(t, load(t, l, "isolate_faults")), pidOf(t, load(t, l, "isolate_faults"))
	rep := iso.Report()
	t.Logf("report: %+v", rep)
	na, nb := netNS(t, fmt.Sprintf("/proc/%d/ns/net", a)), netNS(t, fmt.Sprintf("/proc/%d/ns/net", b))
	if na == host || nb == host {
		t.Fatalf("a child is in the host's network namespace %s", host)
	}
	if got := netNS(t, "/proc/self/ns/net"); got != host {
		t.Errorf("the host's main thread moved to network namespace %s (was %s)", got, host)
	}
	switch {
	case slices.Contains(rep.Namespaces, "net-shared"):
		if na != nb {
			t.Errorf("children in network namespaces %s and %s, want one shared", na, nb)
		}
		// Empty: the loopback interface only.
		dev, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", a))
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(dev, []byte(":")); n != 1 || !bytes.Contains(dev, []byte("lo:")) {
			t.Errorf("shared network namespace has interfaces other than lo:\n%s", dev)
		}
	case slices.Contains(rep.Namespaces, "net"):
		if na == nb {
			t.Errorf("children share network namespace %s, reported as one each", na)
		}
	default:
		testenv.Skipf(t, "no network namespace: %v", rep.Missing)
	}

	// A policy that allows sockets: a namespace of its own.
	l2, iso2 := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{Allow: []string{"socket"}}})
	c := pidOf(t, load(t, l2, "isolate_faults"))
	if nc := netNS(t, fmt.Sprintf("/proc/%d/ns/net", c)); nc == na || nc == host {
		t.Errorf("child allowed sockets is in network namespace %s (shared %s, host %s)", nc, na, host)
	}
	if rep2 := iso2.Report(); !slices.Contains(rep2.Namespaces, "net") {
		t.Errorf("report with sockets allowed: %+v, want a network namespace of its own", rep2)
	}
}

// spares returns the pids of this process's spare children.
func spares(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !bytes.Contains(env, []byte("RUNPLUG_ISOLATE_SPARE=1\x00")) {
			continue
		}
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:]); len(f) >= 2 && string(f[1]) == fmt.Sprint(os.Getpid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// TestSpareConfined: a spare child is confined (no_new_privs, the load
// filter, the address space limit) while it waits for its request.
func TestSpareConfined(t *testing.T) {
	needKernel(t)
	iso := isolate.New(isolate.Options{Spare: true, Policy: isolate.Policy{Memory: 4 << 30}})
	defer iso.Close(context.Background())
	if err := iso.Prestart(); err != nil {
		t.Fatal(err)
	}
	pids := spares(t)
	if len(pids) != 1 {
		t.Fatalf("spare children of this process: %v, want one", pids)
	}
	pid := pluginProc(t, pids[0])
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2"} {
		if !bytes.Contains(status, []byte(want)) {
			t.Errorf("spare %d: /proc status lacks %q", pid, want)
		}
	}
	if limits, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid)); !bytes.Contains(limits, []byte("4294967296")) {
		t.Errorf("spare %d: address space limit not set:\n%s", pid, limits)
	}
}

// TestSpareDied: a load whose spare died gets a child of its own.
func TestSpareDied(t *testing.T) {
	needKernel(t)
	iso := isolate.New(isolate.Options{Spare: true})
	defer iso.Close(context.Background())
	l := loader.New(loader.Options{Isolation: iso})
	defer l.Close(context.Background())
	if err := iso.Prestart(); err != nil {
		t.Fatal(err)
	}
	pids := spares(t)
	if len(pids) != 1 {
		t.Fatalf("spare children of this process: %v, want one", pids)
	}
	// Kill it through a pidfd and wait (on the pidfd, with a deadline)
	// until it is gone.
	pidfd, err := unix.PidfdOpen(pids[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	if err := unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 10000); n != 1 {
		t.Fatalf("spare still alive: %v", err)
	}
	p := load(t, l, "isolate_faults")
	if pid := pidOf(t, p); pid == pids[0] {
		t.Fatalf("loaded in the dead spare %d", pid)
	}
	if r, err := call(t, p, "add", 2, 3); err != nil || r != 5 {
		t.Fatalf("add = %d, %v", r, err)
	}
}

// TestLoadBytesEmpty: an empty image is refused as in process (the child
// loads bytes, not a path, though the request's empty image decodes as
// nil).
func TestLoadBytesEmpty(t *testing.T) {
	_, want := loader.New(loader.Options{}).LoadBytes(context.Background(), "empty.so", nil)
	if want == nil {
		t.Fatal("in process: empty image accepted")
	}
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	_, err := l.LoadBytes(context.Background(), "empty.so", nil)
	t.Logf("in process: %v; isolated: %v", want, err)
	if err == nil || !errors.Is(err, elfimage.ErrMalformed) || !errors.Is(want, elfimage.ErrMalformed) {
		t.Fatalf("isolated LoadBytes of an empty image: %v, want elfimage.ErrMalformed as in process (%v)", err, want)
	}
}
