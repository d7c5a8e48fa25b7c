//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Each child runs in a cgroup v2 of its own where the host can make one:
// memory.max bounds all the memory charged to it (anonymous memory, and
// the tmpfs, memfd and page cache pages that RLIMIT_AS does not count),
// pids.max its tasks (threads and processes), and the child is put there
// at its clone (CLONE_INTO_CGROUP), before any of its code runs. The
// Isolator makes one cgroup beside the host's own (a cgroup that holds
// processes cannot give controllers to children: cgroup v2's "no internal
// processes" rule), named for the host's pid, and one per child below
// it. Where none can be made (cgroup v1 or hybrid, no memory or pids
// controller, no write access: no delegation, a read-only
// /sys/fs/cgroup), the rlimits alone apply, and Report.Missing says why.

// cgroupFS is where cgroup v2 is mounted.
const cgroupFS = "/sys/fs/cgroup"

// cgroupWaiters is what pids.max counts beyond Policy.Threads: the two
// processes that wait for a PID namespace (internal/childrt pidns.c).
const cgroupWaiters = 2

// cgroupControllers are the controllers each child's cgroup needs.
var cgroupControllers = []string{"memory", "pids"}

// cgroupMade, when set (by tests over a directory tree laid out as
// cgroupfs), is called after each cgroup directory is made, to give it
// the control files the kernel would.
var cgroupMade func(dir string)

// mkdirCgroup makes a cgroup directory.
func mkdirCgroup(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	if cgroupMade != nil {
		cgroupMade(dir)
	}
	return nil
}

// isolatorSeq numbers the cgroups of the Isolators of this process.
var isolatorSeq atomic.Uint64

// cgroups is an Isolator's cgroup: made when it has a child, removed
// when its last child's is (so that a host that never closes its
// Isolator leaves nothing behind).
type cgroups struct {
	probe sync.Once
	home  string // the host's cgroup, relative to cgroupFS ("" when none)
	why   error  // why there is none

	mu   sync.Mutex
	dir  string // the Isolator's cgroup, while it has children
	live int    // its children's cgroups
	seq  atomic.Uint64
}

// setup finds, once, where this host may make cgroups; it returns why
// not.
func (cg *cgroups) setup() error {
	cg.probe.Do(func() {
		var st unix.Statfs_t
		if err := unix.Statfs(cgroupFS, &st); err != nil {
			cg.why = fmt.Errorf("%s: %w", cgroupFS, err)
			return
		}
		if st.Type != unix.CGROUP2_SUPER_MAGIC {
			cg.why = fmt.Errorf("%s is not cgroup v2 (cgroup v1 or hybrid)", cgroupFS)
			return
		}
		cg.home, cg.why = ownCgroup("/proc/self/cgroup")
		if cg.why == nil {
			removeStale(cgroupParent(cgroupFS, cg.home))
		}
	})
	return cg.why
}

// acquire returns the Isolator's cgroup for one more child, making it
// if it has none.
func (cg *cgroups) acquire() (string, error) {
	cg.mu.Lock()
	defer cg.mu.Unlock()
	if cg.dir == "" {
		name := fmt.Sprintf("runplug-%d-%d", os.Getpid(), isolatorSeq.Add(1))
		dir, err := makeIsolatorCgroup(cgroupFS, cg.home, name)
		if err != nil {
			return "", err
		}
		cg.dir = dir
	}
	cg.live++
	return cg.dir, nil
}

// release drops a child's hold on the Isolator's cgroup, and removes it
// after its last child.
func (cg *cgroups) release() {
	cg.mu.Lock()
	defer cg.mu.Unlock()
	if cg.live--; cg.live == 0 && cg.dir != "" {
		if unix.Rmdir(cg.dir) == nil {
			cg.dir = ""
		}
	}
}

// removeStale removes the cgroups that hosts which died left in parent
// (runplug-PID-N, PID no longer a process; its children's processes
// died with it, by their parent-death signal).
func removeStale(parent string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		var pid, n int
		if _, err := fmt.Sscanf(e.Name(), "runplug-%d-%d", &pid, &n); err != nil || !e.IsDir() || pid == os.Getpid() {
			continue
		}
		if unix.Kill(pid, 0) != unix.ESRCH {
			continue // alive (or another's pid now: left alone)
		}
		dir := filepath.Join(parent, e.Name())
		kids, _ := os.ReadDir(dir)
		for _, k := range kids {
			if k.IsDir() {
				unix.Rmdir(filepath.Join(dir, k.Name()))
			}
		}
		unix.Rmdir(dir)
	}
}

// cgroupParent is where the Isolators' cgroups go for a host in cgroup
// self: beside it, or below it when it is the root.
func cgroupParent(fsRoot, self string) string {
	parent := filepath.Join(fsRoot, self)
	if self != "/" {
		parent = filepath.Dir(parent)
	}
	return parent
}

// ownCgroup reads this process's cgroup v2 path from /proc/self/cgroup
// (the "0::PATH" line).
func ownCgroup(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if path, ok := strings.CutPrefix(line, "0::"); ok && strings.HasPrefix(path, "/") {
			return path, nil
		}
	}
	return "", fmt.Errorf("%s names no cgroup v2", file)
}

// makeIsolatorCgroup makes name beside the cgroup self (under fsRoot),
// or below it when self is the root, with the memory and pids
// controllers enabled for its children.
func makeIsolatorCgroup(fsRoot, self, name string) (string, error) {
	parent := cgroupParent(fsRoot, self)
	avail, err := os.ReadFile(filepath.Join(parent, "cgroup.controllers"))
	if err != nil {
		return "", err
	}
	for _, c := range cgroupControllers {
		if !slices.Contains(strings.Fields(string(avail)), c) {
			return "", fmt.Errorf("%s: no %s controller (cgroup.controllers: %q)", parent, c, strings.TrimSpace(string(avail)))
		}
	}
	if err := enableControllers(parent); err != nil {
		return "", err
	}
	dir := filepath.Join(parent, name)
	if err := mkdirCgroup(dir); err != nil {
		return "", err
	}
	if err := enableControllers(dir); err != nil {
		os.Remove(dir)
		return "", err
	}
	return dir, nil
}

// enableControllers enables cgroupControllers for dir's children, unless
// they are.
func enableControllers(dir string) error {
	file := filepath.Join(dir, "cgroup.subtree_control")
	on, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var add []string
	for _, c := range cgroupControllers {
		if !slices.Contains(strings.Fields(string(on)), c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := writeCgroupFile(file, strings.Join(add, " ")); err != nil {
		return fmt.Errorf("enable %s: %w", strings.Join(add, " "), err)
	}
	return nil
}

// writeCgroupFile writes value to a cgroup's control file, which must
// exist (a cgroup directory refuses to create files).
func writeCgroupFile(file, value string) error {
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// childCgroup is one child's cgroup.
type childCgroup struct {
	dir   string
	group string // the Isolator's cgroup
	// idleMade: beside the host's cgroup, for a background start
	// (cgroup_idle.go).
	idleMade bool
	fd       int // the directory, for CLONE_INTO_CGROUP; -1 once started
	// idle: made beside the host's cgroup with cpu.idle 1
	// (cgroup_idle.go), until raised.
	idle atomic.Bool
}

// newChild makes a child's cgroup in the Isolator's dir, with the
// policy's memory and task limits.
func (cg *cgroups) newChild(dir string, pol Policy) (*childCgroup, error) {
	return cg.makeChild(dir, filepath.Join(dir, fmt.Sprintf("child-%d", cg.seq.Add(1))), pol)
}

// makeChild makes the child cgroup dir for the Isolator's cgroup
// group, with the policy's memory and task limits.
func (cg *cgroups) makeChild(group, dir string, pol Policy) (*childCgroup, error) {
	c := &childCgroup{dir: dir, group: group, fd: -1}
	if err := mkdirCgroup(c.dir); err != nil {
		return nil, err
	}
	mem := memoryLimit(pol)
	threads := pol.Threads
	if threads == 0 {
		threads = DefaultThreads
	}
	for _, w := range []struct {
		file, value string
		optional    bool // absent without swap accounting
	}{
		{"memory.max", strconv.FormatUint(mem, 10), false},
		{"memory.swap.max", "0", true}, // tmpfs pages may not leave memory.max for swap
		{"pids.max", strconv.Itoa(threads + cgroupWaiters), false},
	} {
		err := writeCgroupFile(filepath.Join(c.dir, w.file), w.value)
		if err != nil && !(w.optional && errors.Is(err, os.ErrNotExist)) {
			os.Remove(c.dir)
			return nil, fmt.Errorf("%s: %w", w.file, err)
		}
	}
	fd, err := unix.Open(c.dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(c.dir)
		return nil, err
	}
	c.fd = fd
	return c, nil
}

// started closes the directory once the child is in the cgroup.
func (c *childCgroup) started() {
	if c.fd >= 0 {
		unix.Close(c.fd)
		c.fd = -1
	}
}

// oomKills reads how many of the child's processes the OOM killer ended
// at memory.max (memory.events' oom_kill).
func (c *childCgroup) oomKills() uint64 {
	return eventCount(filepath.Join(c.dir, "memory.events"), "oom_kill")
}

// eventCount reads key's count in a cgroup's events file (0 when absent).
func eventCount(file, key string) uint64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok && k == key {
			n, _ := strconv.ParseUint(v, 10, 64)
			return n
		}
	}
	return 0
}

// remove ends whatever of the child is left in its cgroup (cgroup.kill:
// the PID namespace's reaper and plugin process outlive the process the
// host reaped by a moment) and removes the cgroup, waiting for it to
// empty until ctx ends.
func (c *childCgroup) remove(ctx context.Context) error {
	c.started()
	writeCgroupFile(filepath.Join(c.dir, "cgroup.kill"), "1") // Linux 5.14+; the processes die anyway
	return rmdirWhenEmpty(ctx, c.dir)
}

// rmdirWhenEmpty removes the cgroup dir once it holds no process: it
// waits on cgroup.events, which the kernel marks (POLLPRI) when
// "populated" changes, until ctx ends.
func rmdirWhenEmpty(ctx context.Context, dir string) error {
	events := filepath.Join(dir, "cgroup.events")
	emptySeen := false
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		fd, err := unix.Open(events, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		populated := eventCount(events, "populated") != 0
		if populated {
			wait := 100 * time.Millisecond // each round looks at ctx again
			if d, ok := ctx.Deadline(); ok {
				wait = min(wait, time.Until(d))
			}
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLPRI}}, int(max(wait, 0).Milliseconds()))
		}
		unix.Close(fd)
		if ctx.Err() != nil {
			return fmt.Errorf("remove cgroup %s: %w", dir, ctx.Err())
		}
		if !populated {
			// It emptied between the rmdir and the read: once more.
			// Empty and still busy twice: a cgroup of its own is left
			// below it (the Isolator's, while a child's is there).
			if emptySeen {
				return fmt.Errorf("remove cgroup %s: %w", dir, unix.EBUSY)
			}
			emptySeen = true
		}
	}
}

// childCgroup makes the next child's cgroup (nil when there is none: the
// Report says why). An idle one (a background start without
// CAP_SYS_NICE) goes beside the host's cgroup with cpu.idle 1
// (cgroup_idle.go) where it can, else where any other goes.
func (iso *Isolator) childCgroup(idle bool) *childCgroup {
	if iso.cg.setup() != nil {
		return nil
	}
	iso.mu.Lock()
	off := iso.cgOff != nil
	iso.mu.Unlock()
	if off {
		return nil
	}
	dir, err := iso.cg.acquire()
	if err == nil {
		var c *childCgroup
		if idle && iso.idleCgroupOff() == nil {
			if c, err = iso.cg.newIdleChild(dir, iso.opts.Policy); err == nil {
				return c
			}
			iso.noIdleCgroup(err)
		}
		if c, err = iso.cg.newChild(dir, iso.opts.Policy); err == nil {
			return c
		}
		iso.cg.release()
	}
	iso.noCgroup(err)
	return nil
}

// noCgroup stops putting this Isolator's children in cgroups: err says
// why.
func (iso *Isolator) noCgroup(err error) {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if iso.cgOff == nil {
		iso.cgOff = err
		iso.log.Warn("children not in cgroups, rlimits alone", "error", err)
	}
}

// noteCgroup records in the Report whether p runs in a cgroup of its own,
// and why not.
func (iso *Isolator) noteCgroup(p *proc) {
	why := iso.cg.setup()
	iso.mu.Lock()
	defer iso.mu.Unlock()
	if why == nil {
		why = iso.cgOff
	}
	if why == nil {
		why = errors.New("not made")
	}
	if p.cgIdle && (p.cg == nil || !p.cg.idleMade) {
		whyIdle := iso.idleOff
		if p.cg == nil || whyIdle == nil {
			whyIdle = fmt.Errorf("no CAP_SYS_NICE, and no cgroup: %w", why)
		}
		iso.report.Missing = append(iso.report.Missing, "idle start: "+whyIdle.Error()+": "+idleLoses)
	}
	if p.cg != nil {
		iso.report.Cgroup = p.cg.group
		return
	}
	iso.report.Cgroup = ""
	iso.report.Missing = append(iso.report.Missing, "cgroup: "+why.Error()+": "+cgroupLoses)
}

// cgroupLoses is what a child without a cgroup of its own loses.
const cgroupLoses = "memory (tmpfs and memfd pages included) and tasks are bounded by rlimits alone (RLIMIT_AS, RLIMIT_FSIZE per file, RLIMIT_NPROC)"

// removeCgroup removes p's cgroup, if any, once the child has ended.
func (p *proc) removeCgroup() {
	if p.cg == nil {
		return
	}
	// Bounded: its processes are dead or being killed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.cg.remove(ctx); err != nil {
		p.iso.log.Warn("child cgroup not removed", "error", err)
		return // and the Isolator's stays, holding it
	}
	p.iso.cg.release()
}
