//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/childrt"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// envTestHost makes the test binary a host program for
// TestHostKilledLeavesNoChild: it loads the plugin named by the variable
// isolated, prints the child's pid and waits to be killed.
const envTestHost = "RUNPLUG_ISOLATE_TEST_HOST"

// envTestReport makes that host print its Isolator's Report too, quoted,
// on the line after the pid (TestNamespacesRefused).
const envTestReport = "RUNPLUG_ISOLATE_TEST_REPORT"

// envTestFallback makes that host set Policy.NamespaceFallback.
const envTestFallback = "RUNPLUG_ISOLATE_TEST_FALLBACK"

func TestMain(m *testing.M) {
	if path := os.Getenv(envTestHost); path != "" {
		iso := isolate.New(isolate.Options{Policy: isolate.Policy{NamespaceFallback: os.Getenv(envTestFallback) != ""}})
		l := loader.New(loader.Options{Isolation: iso})
		p, err := l.Load(context.Background(), path)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(isolate.Pid(p))
		if os.Getenv(envTestReport) != "" {
			fmt.Printf("%q\n", fmt.Sprintf("%+v", iso.Report()))
		}
		os.Stdin.Read(make([]byte, 1)) // until killed
		os.Exit(0)
	}
	code := m.Run()
	if n := pcall.LocksHeldAtRecovery(); n != 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d recovered faults or deadlines found a runplug lock held\n", n)
		code = 1
	}
	os.Exit(code)
}

// TestHostKilledLeavesNoChild: a host killed with SIGKILL leaves no child:
// the parent-death signal kills it. This test process is made a child
// subreaper, so the orphaned child is reparented to it and reaped here:
// no zombie either. No sleeps: the wait on the child's pidfd has a
// deadline.
func TestHostKilledLeavesNoChild(t *testing.T) {
	needKernel(t)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(exe, "-test.run=^$")
	host.Env = append(os.Environ(), envTestHost+"="+plugintest.Build(t, "isolate_faults"))
	stdin, _ := host.StdinPipe()
	defer stdin.Close()
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("host said %q", line)
	}
	// Every process of the child: in a PID namespace, the one the host
	// started, the namespace's init and the plugin's process.
	tree := childTree(t, pid)
	var pidfds []int
	for _, pid := range tree {
		pidfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			t.Fatalf("pidfd of child %d: %v", pid, err)
		}
		defer unix.Close(pidfd)
		pidfds = append(pidfds, pidfd)
	}
	// The child was asked for its namespaces by its constructor, which
	// re-arms the parent-death signal after entering them: that path.
	if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid)); err != nil || !bytes.Contains(env, []byte(childrt.EnvEarlyNamespaces+"=")) {
		t.Errorf("child %d was not asked for early namespaces (%v)", pid, err)
	}
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	host.Wait()
	deadline := time.Now().Add(10 * time.Second)
	// The plugin's process first: the namespace's init ends only once
	// the namespace's other processes are reaped, and the plugin's is
	// this subreaper's now.
	slices.Reverse(tree)
	slices.Reverse(pidfds)
	for i, pidfd := range pidfds {
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			n, err := unix.Poll(fds, int(time.Until(deadline).Milliseconds()))
			if err == unix.EINTR {
				continue
			}
			if n == 1 {
				break
			}
			t.Fatalf("child process %d of %v still running 10 s after its host was killed (%v)", tree[i], tree, err)
		}
		// Reap it (it is ours now, as subreaper).
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PIDFD, pidfd, &info, unix.WEXITED, nil); err != nil {
			t.Fatalf("waitid %d: %v", tree[i], err)
		}
	}
	for _, pid := range tree {
		assertGone(t, pid)
	}
}

// TestSoak: 10,000 calls with a restart every 1,000 lose nothing and leak
// nothing: descriptors, channel mappings and child processes are as
// before.
func TestSoak(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	p := load(t, l, "isolate_faults")
	add := fn(t, p, "add")
	if _, err := add.Call(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	fds0, maps0, kids0 := resources(t)
	first := isolate.Pid(p)
	pids := map[int]bool{}
	for i := 0; i < 10000; i++ {
		if i > 0 && i%1000 == 0 {
			if err := p.Restart(context.Background()); err != nil {
				t.Fatalf("restart at %d: %v", i, err)
			}
		}
		pids[isolate.Pid(p)] = true
		r, err := add.Call(context.Background(), uint64(i), 1)
		if err != nil || r != uint64(i)+1 {
			t.Fatalf("call %d = %d, %v", i, r, err)
		}
	}
	if len(pids) != 10 {
		t.Errorf("%d children over the run, want 10", len(pids))
	}
	fds1, maps1, kids1 := resources(t)
	if fds1 != fds0 || maps1 != maps0 || kids1 != kids0 {
		t.Errorf("resources before/after: fds %d/%d, mappings %d/%d, children %d/%d", fds0, fds1, maps0, maps1, kids0, kids1)
	}
	for pid := range pids {
		if pid != isolate.Pid(p) {
			assertGone(t, pid)
		}
	}
	if pids[first] && first != isolate.Pid(p) {
		assertGone(t, first)
	}
}

// resources counts this process's descriptors, mappings and children.
func resources(t *testing.T) (fds, maps, kids int) {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		kids += len(strings.Fields(string(b)))
	}
	// Mappings of channels (the Go heap's own come and go).
	return len(ents), strings.Count(string(m), "memfd:runplug-isolate"), kids
}

// TestFailedRestart: a restart that cannot load the plugin again (its
// file is gone) fails, calls keep failing cleanly, and a later restart
// works once the file is back.
func TestFailedRestart(t *testing.T) {
	needKernel(t)
	src, err := os.ReadFile(plugintest.Build(t, "isolate_faults"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "isolate_faults.so")
	if err := os.WriteFile(path, src, 0o755); err != nil {
		t.Fatal(err)
	}
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	p, err := l.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	add := fn(t, p, "add")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(context.Background()); err == nil {
		t.Fatal("restart without the file succeeded")
	}
	if _, err := add.Call(context.Background(), 1, 2); !errors.Is(err, isolate.ErrExited) {
		t.Fatalf("call after a failed restart: %v, want ErrExited", err)
	}
	if err := os.WriteFile(path, src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := p.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r, err := add.Call(context.Background(), 1, 2); err != nil || r != 3 {
		t.Fatalf("after restart: %d, %v", r, err)
	}
}

// TestSpare: with Options.Spare a child is started ahead and the load
// takes it; restarts take the next one; the Isolator's Close ends the
// spare, and the Loader's Close the plugin's child: no child is left.
func TestSpare(t *testing.T) {
	needKernel(t)
	_, _, kids0 := resources(t)
	iso := isolate.New(isolate.Options{Spare: true})
	l := loader.New(loader.Options{Isolation: iso})
	if err := iso.Prestart(); err != nil {
		t.Fatal(err)
	}
	p := load(t, l, "isolate_faults")
	add := fn(t, p, "add")
	for i := 0; i < 3; i++ {
		if r, err := add.Call(context.Background(), 2, 3); err != nil || r != 5 {
			t.Fatalf("add = %d, %v", r, err)
		}
		if err := iso.Prestart(); err != nil {
			t.Fatal(err)
		}
		if err := p.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := iso.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, _, kids := resources(t); kids != kids0 {
		t.Errorf("children before/after: %d/%d", kids0, kids)
	}
}

// TestChildGC: the child's garbage collector runs while its other serving
// threads sleep on their futexes: 30,000 failing lookups make the child
// allocate past several GC cycles. (Sleeping in a raw system call that
// keeps the thread's P, tried to save the P's handoff on wake-up, hung
// here: the world could not be stopped.)
func TestChildGC(t *testing.T) {
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Channels: 4})
	p := load(t, l, "isolate_faults")
	for i := 0; i < 30000; i++ {
		if _, err := p.Lookup(fmt.Sprintf("no_such_symbol_%d_with_a_longer_name_to_allocate_more", i)); !errors.Is(err, loader.ErrSymbolNotFound) {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if r, err := fn(t, p, "add").Call(context.Background(), 1, 2); err != nil || r != 3 {
		t.Fatalf("add = %d, %v", r, err)
	}
}
