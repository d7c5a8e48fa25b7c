//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// policies returns the scheduling policy of every thread of the child
// pid and of its children (the reaper and the plugin's process), by
// thread id.
func policies(t *testing.T, pid int) map[int]uint32 {
	t.Helper()
	out := map[int]uint32{}
	pids := []int{pid}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, f := range strings.Fields(string(b)) {
			k, _ := strconv.Atoi(f)
			pids = append(pids, k)
		}
	}
	for _, q := range pids {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", q))
		if err != nil {
			t.Fatalf("threads of %d: %v", q, err)
		}
		for _, e := range ents {
			tid, _ := strconv.Atoi(e.Name())
			a, err := unix.SchedGetAttr(tid, 0)
			if err != nil {
				t.Fatalf("sched_getattr(%d): %v", tid, err)
			}
			out[tid] = a.Policy
		}
	}
	return out
}

// allPolicy fails the test unless every thread of the child pid has
// policy want (and there are at least 3: the child, the reaper, the
// plugin's process).
func allPolicy(t *testing.T, what string, pid int, want uint32) {
	t.Helper()
	ps := policies(t, pid)
	if len(ps) < 3 {
		t.Fatalf("%s: child %d has %d threads in all, want the child, its reaper and the plugin's process", what, pid, len(ps))
	}
	for tid, pol := range ps {
		if pol != want {
			t.Errorf("%s: child %d thread %d has policy %d, want %d (%d threads)", what, pid, tid, pol, want, len(ps))
		}
	}
}

// A child started behind a serving version runs SCHED_IDLE until it has
// loaded and serves at normal priority: a Live's reload, and a spare,
// which waits idle and is raised when a load takes it. A plain load's
// child never runs idle. (docs/STATE.md, "The pause of an isolated
// reload".)
func TestBackgroundStartPriority(t *testing.T) {
	if !isolate.IdleStarts() {
		testenv.Skipf(t, "the host lacks CAP_SYS_NICE: children start at normal priority")
	}
	loaded := map[int]map[int]uint32{} // pid -> policies at its load reply
	defer isolate.SetLoadedHook(func(pid int) { loaded[pid] = policies(t, pid) })()
	defer isolate.SetBackgroundGrace(time.Hour)() // the start is idle until it has loaded
	ctx := context.Background()
	idle, normal := uint32(unix.SCHED_IDLE), uint32(unix.SCHED_NORMAL)

	t.Run("live reload", func(t *testing.T) {
		l, _ := newLoader(t, loader.Options{}, isolate.Options{})
		lv, err := l.LoadLive(ctx, plugintest.Build(t, "live_a"), loader.LiveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer lv.Close(ctx)
		first := isolate.Pid(lv.Plugin())
		for _, pol := range loaded[first] {
			if pol != normal {
				t.Fatalf("the first version's child (a plain load) ran at policy %d before it served: %v", pol, loaded[first])
			}
		}
		if err := lv.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		next := isolate.Pid(lv.Plugin())
		if next == first || loaded[next] == nil {
			t.Fatalf("reload: child %d after %d, seen loading: %v", next, first, loaded[next] != nil)
		}
		for tid, pol := range loaded[next] {
			if pol != idle {
				t.Errorf("the reload's child %d: thread %d at policy %d while it loaded, want SCHED_IDLE", next, tid, pol)
			}
		}
		allPolicy(t, "serving after the reload", next, normal)
		mustCall(t, lv.Plugin(), "live_calls")
	})

	t.Run("spare", func(t *testing.T) {
		l, iso := newLoader(t, loader.Options{}, isolate.Options{Spare: true})
		defer iso.Close(ctx)
		if err := iso.Prestart(); err != nil {
			t.Fatal(err)
		}
		spare := isolate.SparePid(iso)
		allPolicy(t, "a waiting spare", spare, idle)
		p, err := l.Load(ctx, plugintest.Build(t, "live_a"))
		if err != nil {
			t.Fatal(err)
		}
		if got := isolate.Pid(p); got != spare {
			t.Fatalf("the load took child %d, not the spare %d", got, spare)
		}
		for tid, pol := range loaded[spare] {
			if pol != normal {
				t.Errorf("a plain load that took the spare: thread %d at policy %d while it loaded, want normal", tid, pol)
			}
		}
		allPolicy(t, "serving after a plain load took the spare", spare, normal)
	})
}

// cgroupIdle reads cpu.idle of the cgroup v2 that process pid is in ("" when
// there is none).
func cgroupIdle(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rel, ok := strings.CutPrefix(line, "0::"); ok {
			v, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup", rel, "cpu.idle"))
			return strings.TrimSpace(string(v))
		}
	}
	return ""
}

// On a host without CAP_SYS_NICE, a reload's child starts in a cgroup of
// its own marked idle (cpu.idle 1 at its load reply, 0 once it serves)
// where the host can make one with the cpu controller; elsewhere it
// starts at normal priority and the Report says why. (docs/STATE.md,
// "The pause of an isolated reload".)
func TestBackgroundStartCgroupIdle(t *testing.T) {
	needKernel(t)
	defer isolate.SetIdleStarts(false)()
	defer isolate.SetBackgroundGrace(time.Hour)()
	type seen struct {
		policies map[int]uint32
		cpuIdle  string
	}
	loaded := map[int]seen{}
	defer isolate.SetLoadedHook(func(pid int) { loaded[pid] = seen{policies(t, pid), cgroupIdle(t, pid)} })()
	ctx := context.Background()
	l, iso := newLoader(t, loader.Options{}, isolate.Options{})
	lv, err := l.LoadLive(ctx, plugintest.Build(t, "live_a"), loader.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(ctx)
	if err := lv.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	next := isolate.Pid(lv.Plugin())
	at := loaded[next]
	for tid, pol := range at.policies {
		if pol != unix.SCHED_NORMAL {
			t.Errorf("thread %d of the reload's child at policy %d: without CAP_SYS_NICE it could not be raised", tid, pol)
		}
	}
	rep := iso.Report()
	i := slices.IndexFunc(rep.Missing, func(m string) bool { return strings.HasPrefix(m, "idle start: ") })
	if at.cpuIdle != "1" {
		if i < 0 {
			t.Fatalf("the reload's child not in an idle cgroup (cpu.idle %q), and the Report does not say why: %+v", at.cpuIdle, rep)
		}
		t.Logf("no idle cgroup here: %s", rep.Missing[i])
		return
	}
	if i >= 0 {
		t.Errorf("an idle cgroup, and the Report says %q", rep.Missing[i])
	}
	if got := cgroupIdle(t, next); got != "0" {
		t.Errorf("the reload's child serving with cpu.idle %q, want 0", got)
	}
	mustCall(t, lv.Plugin(), "live_calls")
}
