//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A child started behind a serving version (a Live's reload, or a spare
// made ahead of its use) runs SCHED_IDLE until it serves: its exec, its
// runtime's start and the plugin's load then take only the CPU time the
// serving version's callers leave, instead of preempting them for whole
// time slices on a busy machine (docs/STATE.md, "The pause of an
// isolated reload"). The policy is inherited: the child's first
// constructor enters it (internal/childrt/idle.c, asked by
// childrt.IdleEnv) before it forks its reaper and plugin process or
// starts a thread, so all of them start idle.
//
// Leaving SCHED_IDLE takes CAP_SYS_NICE (or an RLIMIT_NICE of 20, which
// a host rarely has): a host without it starts every child at normal
// priority, as before.

// idleStarts says whether this host can raise a child it started
// SCHED_IDLE back to normal priority: CAP_SYS_NICE in its effective set.
var idleStarts = sync.OnceValue(func() bool {
	h := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var d [2]unix.CapUserData
	if unix.Capget(&h, &d[0]) != nil {
		return false
	}
	return d[0].Effective&(1<<unix.CAP_SYS_NICE) != 0
})

// setNormal moves every idle thread of the child's processes (the
// host's child and its children: in a PID namespace, the reaper and the
// plugin's process) back to normal priority. It goes over the threads
// until a pass finds none left idle: a thread made meanwhile by one
// still idle is idle too, and is found by the next pass. A thread that
// ended meanwhile is skipped; a thread's other policy is its own
// choice. A plugin that keeps putting its threads back to idle only
// slows itself; after 100 passes the error says so (the caller logs it:
// the child serves).
func (p *proc) setNormal() error {
	for pass := 0; ; pass++ {
		moved := 0
		for _, pid := range append([]int{p.pid}, childrenOf(p.pid)...) {
			n, err := raiseThreads(pid)
			if err != nil {
				return fmt.Errorf("isolate: child %d: scheduling policy: %w", p.pid, err)
			}
			moved += n
		}
		if moved == 0 {
			return nil
		}
		if pass == 100 {
			return fmt.Errorf("isolate: child %d: threads still made at idle priority after %d passes", p.pid, pass)
		}
	}
}

// raiseThreads moves every SCHED_IDLE thread of process pid to
// SCHED_NORMAL and returns how many it moved.
func raiseThreads(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, nil // ended
	}
	moved := 0
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cur, err := unix.SchedGetAttr(tid, 0)
		if err != nil || cur.Policy != unix.SCHED_IDLE {
			continue // ended, or not idle
		}
		if err := unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: unix.SCHED_NORMAL}, 0); err != nil && err != unix.ESRCH {
			return moved, fmt.Errorf("thread %d: sched_setattr: %w", tid, err)
		}
		moved++
	}
	return moved, nil
}

// backgroundGrace bounds the time a background start runs idle: a host
// whose callers leave no CPU time would otherwise starve its reload.
// After it the child is raised and competes as any start does.
var backgroundGrace = 100 * time.Millisecond

// raise moves a child started idle to normal priority (once; from the
// load that took it, or backgroundGrace's timer). A failure is logged:
// the child serves, slower on a busy machine.
func (p *proc) raise() {
	inCgroup := p.cg != nil && p.cg.idle.CompareAndSwap(true, false)
	threads := p.idle.CompareAndSwap(true, false)
	if !inCgroup && !threads {
		return
	}
	p.reapMu.Lock() // its pid and cgroup are its own until it is reaped
	defer p.reapMu.Unlock()
	if p.reaped {
		return
	}
	if inCgroup {
		if err := p.cg.setIdle(false); err != nil {
			p.iso.log.Warn("isolated child left in an idle cgroup", "pid", p.pid, "error", err)
		}
	}
	if !threads {
		return
	}
	if err := p.setNormal(); err != nil {
		p.iso.log.Warn("isolated child left at idle priority", "pid", p.pid, "error", err)
	}
}
