//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
	"golang.org/x/sys/unix"
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

// TestHostileProcListing: a plugin allowed to open files lists /proc:
// the child's constructor mounted its PID namespace's procfs there, so
// it finds two processes (the reaper and itself), not the machine's
// (the control, without namespaces).
func TestHostileProcListing(t *testing.T) {
	for _, tt := range []struct {
		name string
		pol  isolate.Policy
		see  func(n int64) bool
	}{
		{"pid namespace", isolate.Policy{AllowOpen: true}, func(n int64) bool { return n == 2 }},
		{"no namespaces (control)", isolate.Policy{AllowOpen: true, NoNamespaces: true}, func(n int64) bool { return n > 2 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, iso := newLoader(t, loader.Options{}, isolate.Options{Policy: tt.pol})
			p := load(t, l, "hostile")
			n, err := call(t, p, "proc_pids")
			if err != nil || !tt.see(int64(n)) {
				t.Fatalf("proc_pids = %d, %v; report %+v", int64(n), err, iso.Report())
			}
			t.Logf("/proc lists %d processes", int64(n))
		})
	}
}

// TestHostileForkBomb: with no filter (which stops fork), a plugin that
// forks 10,000 processes stops at its thread limit (RLIMIT_NPROC for its
// uid or user namespace, and pids.max where it has a cgroup), the host
// carries on, and once the plugin is closed none of the processes it
// forked is left: the plugin's process ends, its orphans belong to the
// namespace's init, and the init's end kills and reaps them.
func TestHostileForkBomb(t *testing.T) {
	const limit = 64
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: isolate.Policy{NoSeccomp: true, Threads: limit}})
	p := load(t, l, "hostile")
	n, err := call(t, p, "fork_bomb", 10000)
	if err != nil || n == 0 || n >= limit {
		t.Fatalf("fork_bomb = %d, %v; want it stopped below %d", n, err, limit)
	}
	plugin := pluginProc(t, pidOf(t, p))
	forked := childrenPids(t, plugin)
	if len(forked) != int(n) {
		t.Fatalf("the plugin's process has %d children, it forked %d", len(forked), n)
	}
	busyAfterLimit(t, p)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, pid := range forked {
		assertGone(t, pid)
	}
	t.Logf("%d processes forked, none left", n)
}

// childrenPids lists the children of pid, whichever of its threads
// forked them.
func childrenPids(t *testing.T, pid int) []int {
	t.Helper()
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil || len(files) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	var pids []int
	for _, file := range files {
		b, _ := os.ReadFile(file)
		for _, f := range strings.Fields(string(b)) {
			var k int
			fmt.Sscan(f, &k)
			pids = append(pids, k)
		}
	}
	return pids
}

// TestChildCgroup: where the host can make cgroups (cgroup v2, memory
// and pids controllers, write access), the plugin's process runs in a
// cgroup of its own under Report.Cgroup with memory.max and pids.max of
// its policy, removed when the child ends, and the Isolator's with its
// last child; elsewhere the Report says the cgroup is missing and why, and
// the rlimits apply (TestConfinement, TestHostileThreadFlood).
func TestChildCgroup(t *testing.T) {
	needKernel(t)
	iso := isolate.New(isolate.Options{Policy: isolate.Policy{Memory: 3 << 30, Threads: 100}})
	l := loader.New(loader.Options{Isolation: iso})
	defer l.Close(context.Background())
	p := load(t, l, "isolate_faults")
	rep := iso.Report()
	t.Logf("report: %+v", rep)
	if rep.Cgroup == "" {
		i := slices.IndexFunc(rep.Missing, func(m string) bool { return strings.HasPrefix(m, "cgroup: ") })
		if i < 0 || !strings.Contains(rep.Missing[i], "RLIMIT_AS") {
			t.Fatalf("no cgroup, and the Report does not say why: %+v", rep)
		}
		return
	}
	pid := pluginProc(t, pidOf(t, p))
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	var own string // its cgroup's directory: /proc gives the path below the mount
	for _, line := range strings.Split(string(b), "\n") {
		if rel, ok := strings.CutPrefix(line, "0::"); ok && strings.HasSuffix(rep.Cgroup, filepath.Dir(rel)) {
			own = filepath.Join(rep.Cgroup, filepath.Base(rel))
		}
	}
	if own == "" {
		t.Fatalf("plugin's process in cgroup %q, want one of its own under %s", b, rep.Cgroup)
	}
	for file, want := range map[string]string{"memory.max": fmt.Sprint(3 << 30), "pids.max": "102"} {
		if got, _ := os.ReadFile(filepath.Join(own, file)); strings.TrimSpace(string(got)) != want {
			t.Errorf("%s = %q, want %s", file, got, want)
		}
	}
	// The last child's Close removes its cgroup and the Isolator's.
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{own, rep.Cgroup} {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s after Close: %v", dir, err)
		}
	}
}

// TestHostileMemfdFlood: a plugin allowed memfd_create writes 3 GiB into
// memfds of 64 MiB each (RLIMIT_FSIZE bounds one file, not their sum).
// In a cgroup of its own the OOM killer ends it at memory.max (2 GiB)
// and the error names the limit with its figure; without one, the
// default policy's filter stops it at memfd_create (named), and the
// Report says the cgroup is missing.
func TestHostileMemfdFlood(t *testing.T) {
	needKernel(t)
	probe := isolate.New(isolate.Options{})
	pl := loader.New(loader.Options{Isolation: probe})
	load(t, pl, "hostile")
	cgroup := probe.Report().Cgroup != ""
	pl.Close(context.Background())
	probe.Close(context.Background())

	pol := isolate.Policy{}
	if cgroup {
		pol = isolate.Policy{Memory: 2 << 30, Allow: []string{"memfd_create"}}
	}
	l, _ := newLoader(t, loader.Options{}, isolate.Options{Policy: pol})
	p := load(t, l, "hostile")
	n, err := call(t, p, "memfd_flood", 3<<10)
	if !cgroup {
		var se *isolate.SyscallError
		if !errors.As(err, &se) || se.Name != "memfd_create" {
			t.Fatalf("memfd_flood without a cgroup = %d, %v; want the child stopped at memfd_create", n, err)
		}
		return
	}
	var ee *isolate.ExitError
	if !errors.As(err, &ee) || ee.Signal != syscall.SIGKILL || !strings.Contains(ee.Reason, "memory.max") || !strings.Contains(ee.Reason, "2048 MiB") {
		t.Fatalf("memfd_flood of 3 GiB under 2 GiB = %d MiB, %v; want the OOM kill named", n>>20, err)
	}
	t.Log(err)
}

// TestKillLeavesNoOrphan: a call stopped by its deadline kills the
// child; the host's child reaps the namespace's init and the plugin's
// process before it ends, so none of them is left for another reaper
// (this test process, made a child subreaper, would inherit them).
func TestKillLeavesNoOrphan(t *testing.T) {
	needKernel(t)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	defer unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
	inside := make(chan struct{}, 1)
	l, iso := newLoader(t, loader.Options{}, isolate.Options{})
	registerHost(t, l, inside, false)
	p := load(t, l, "isolate_host")
	if !slices.Contains(iso.Report().Namespaces, "pid") {
		t.Fatalf("no PID namespace: %+v", iso.Report())
	}
	tree := childTree(t, pidOf(t, p))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-inside; cancel() }()
	if _, err := fn(t, p, "spin").Call(ctx); !errors.Is(err, loader.ErrDeadline) {
		t.Fatalf("spin: %v, want the deadline", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Logf("close: %v", err) // quarantined: killed already
	}
	for _, pid := range tree {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG, nil); err != unix.ECHILD {
			t.Errorf("process %d of the child %v was left to this subreaper (waitid: %v)", pid, tree, err)
		}
	}
}
