//go:build linux && amd64 && cgo

package isolate_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"testing"

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
		t.Skipf("no network namespace: %v", rep.Missing)
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

// TestSpareConfined: a spare child is confined (no_new_privs, the load
// filter, the address space limit) while it waits for its request.
func TestSpareConfined(t *testing.T) {
	iso := isolate.New(isolate.Options{Spare: true, Policy: isolate.Policy{Memory: 4 << 30}})
	defer iso.Close()
	if err := iso.Prestart(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range ents {
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, []byte("RUNPLUG_ISOLATE_SPARE=1\x00")) {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		if f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:]); len(f) < 2 || string(f[1]) != fmt.Sprint(os.Getpid()) {
			continue // not ours
		}
		found++
		status, _ := os.ReadFile("/proc/" + e.Name() + "/status")
		for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2"} {
			if !bytes.Contains(status, []byte(want)) {
				t.Errorf("spare %s: /proc status lacks %q", e.Name(), want)
			}
		}
		if limits, _ := os.ReadFile("/proc/" + e.Name() + "/limits"); !bytes.Contains(limits, []byte("4294967296")) {
			t.Errorf("spare %s: address space limit not set:\n%s", e.Name(), limits)
		}
	}
	if found != 1 {
		t.Fatalf("%d spare children of this process, want 1", found)
	}
}
