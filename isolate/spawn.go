//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/childrt"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// A spawner runs children's forks on one OS thread that never exits:
// the parent-death signal (PR_SET_PDEATHSIG) fires when the thread that
// forked the child ends, not the process, and the Go runtime may end a
// thread. A child also starts in the network namespace of the thread
// that forked it, which is what netSpawner is for.
type spawner struct {
	once  sync.Once
	ch    chan spawnReq
	setup func() error // run once on the thread before it forks
	err   error        // setup's failure: the spawner is not usable
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	// plainSpawner forks in the host's own namespaces.
	plainSpawner = &spawner{}
	// netSpawner's thread moves to a network namespace of its own, made
	// once (only a loopback interface, down, owned by the host's user
	// namespace): its children share that empty namespace instead of each
	// making one (see sharedNet). It needs CAP_SYS_ADMIN.
	netSpawner = &spawner{setup: func() error { return unix.Unshare(unix.CLONE_NEWNET) }}
)

func (s *spawner) run(ready chan struct{}) {
	runtime.LockOSThread() // and never unlocked: the thread stays
	if s.setup != nil && unix.Gettid() == unix.Getpid() {
		// The main thread: /proc/PID (and so /proc/self/net) shows its
		// namespaces as the process's. Hold it, so that another
		// goroutine gets another thread, until that one is set up.
		go s.run(ready)
		<-ready
		runtime.UnlockOSThread()
		return
	}
	if s.setup != nil {
		s.err = s.setup()
	}
	close(ready)
	if s.err != nil {
		return // the locked thread ends with the goroutine
	}
	for req := range s.ch {
		req.done <- req.cmd.Start()
	}
}

// usable starts the spawner's thread (once) and says whether it forks.
func (s *spawner) usable() error {
	s.once.Do(func() {
		s.ch = make(chan spawnReq)
		ready := make(chan struct{})
		go s.run(ready)
		<-ready
	})
	return s.err
}

// start starts cmd from the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	if err := s.usable(); err != nil {
		return err
	}
	done := make(chan error, 1)
	s.ch <- spawnReq{cmd, done}
	return <-done
}

// netCalls are the system calls that would let a plugin use a network
// namespace: a policy that allows one gets a network namespace of its
// own per child, never the shared one.
var netCalls = []string{"socket", "socketpair", "io_uring_setup"}

// sharedNet says whether children of pol may share netSpawner's network
// namespace: with none of netCalls allowed the plugin cannot make a
// socket (the filter stops it before the plugin is loaded), so an empty
// namespace it cannot configure (it has no capability in the namespace's
// owner, the host's user namespace) and shares with other children that
// cannot make sockets either is the same boundary as one of its own, and
// costs nothing per child (docs/PERFORMANCE.md, Isolated, has the figures).
func sharedNet(pol Policy) bool {
	if pol.NoSeccomp {
		return false
	}
	for _, n := range netCalls {
		if slices.Contains(pol.Allow, n) {
			return false
		}
	}
	return true
}

// spareCfgSize is the request area of a spare child (a larger request,
// such as a big LoadBytes image, starts a child of its own).
const spareCfgSize = 256 << 10

// testChildEnv is added to each child's environment: this package's
// tests set it to start hostile children (see childHook).
var testChildEnv []string

// loadedHook, when set (by this package's tests), is called with a
// child's pid once it has loaded its plugin, before it is raised from
// idle priority (priority.go).
var loadedHook func(pid int)

// spareDelay is how long after taking the spare the next one starts.
const spareDelay = 50 * time.Millisecond

// spawn starts a child for r (or takes the spare) and waits until it has
// loaded the plugin.
func (iso *Isolator) spawn(ctx context.Context, r *remote) (*proc, *reply, error) {
	req := request{Path: r.req.Path, Name: r.req.Name, Image: r.req.Image, Policy: iso.opts.Policy, Syms: r.syms}
	req.Loader = r.req.Options
	if st := r.req.State; st != nil {
		req.State = &stateReq{Name: st.Name, Slot: st.Slot, From: st.From}
	}
	for _, h := range r.hostFns {
		req.Host = append(req.Host, hostFunc{Name: h.Name, Strings: h.Strings})
	}
	// The request's size without the filters (a spare makes its own);
	// a new child gets room for them too (they name its pid, so they are
	// assembled once it runs).
	cfgSize := len(req.marshal())
	replySize := 64<<10 + len(r.syms)*128
	if iso.opts.Spare {
		// The next spare (or the first, when Prestart was not called)
		// starts a little after this load, so that its exec and runtime
		// start do not compete with the plugin's first calls for the CPU.
		defer time.AfterFunc(spareDelay, iso.refill)
	}
	drop := func(p *proc, why string) {
		if !p.dead.Load() {
			p.kill(why)
		}
		<-p.done
		p.unmap()
	}
	// A start behind a serving version runs idle until it has loaded
	// (priority.go); a restart later has no version in front of it.
	// Without CAP_SYS_NICE, a cgroup marked idle does it where the host
	// can make one (cgroup_idle.go).
	background := r.req.Background && idleStarts()
	cgIdle := r.req.Background && !idleStarts()
	r.req.Background = false
	p := iso.takeSpare(cfgSize, replySize)
	// A spare reads its policy first and confines itself (see newProc):
	// the request may overwrite that only once it waits. One that failed
	// to is dropped, and the load gets a child of its own; so does one
	// the state file cannot be handed to (state_spare.go).
	if p != nil && p.awaitWaiting() != nil {
		drop(p, "spare failed")
		p = nil
	}
	if p != nil && p.handState(r.req.State) != nil {
		drop(p, "spare failed")
		p = nil
	}
	// A spare waits idle; a load not in the background raises it just
	// after sending its request, while the child starts on it.
	raiseSpare := p != nil && !background
	var rep *reply
	var grace *time.Timer // raises a background start that took too long
	defer func() {
		if grace != nil {
			grace.Stop()
		}
	}()
	lost := false
	// A child of its own gets the plugin's file opened (handPlugin).
	var plugin *os.File
	defer func() {
		if plugin != nil {
			plugin.Close()
		}
	}()
	for rep == nil {
		spare := p != nil
		var err error
		if !spare {
			var files childFiles
			if r.req.State != nil {
				files.state = r.req.State.File
			}
			if plugin == nil {
				plugin = handPlugin(r.req.Path)
			}
			files.plugin = plugin
			if p, err = iso.newProc(cfgSize+2*8*bpfMaxInsns, replySize, nil, files, background, cgIdle); err != nil {
				return nil, nil, err
			}
			if req.LoadFilter, req.RunFilter, err = filters(p.ownPid(), dropID(p.pid), iso.opts.Policy); err != nil {
				drop(p, "load failed")
				return nil, nil, err
			}
		}
		cfg := req.marshal()
		if len(cfg) > p.cfgCap {
			drop(p, "load failed")
			return nil, nil, fmt.Errorf("isolate: request of %d bytes, room for %d", len(cfg), p.cfgCap)
		}
		if background || p.cg != nil && p.cg.idle.Load() {
			grace = time.AfterFunc(backgroundGrace, p.raise)
		}
		p.deliver(r, cfg)
		if spare && raiseSpare {
			p.raise()
		}
		if rep, err = p.awaitStart(ctx); err != nil {
			if grace != nil {
				grace.Stop()
			}
			// A spare that died before it took the request (still
			// waiting) says nothing about the plugin: start another.
			again := spare && atomic.LoadUint32(&p.hdr.state) == stWaiting && ctx.Err() == nil
			// One whose listener the host could not take failed for
			// the host's reason, not the plugin's: the next degrades
			// (listen.go).
			again = again || !lost && p.lis != nil && p.lis.lost.Load() && ctx.Err() == nil
			lost = lost || p.lis != nil && p.lis.lost.Load()
			drop(p, "load failed")
			if !again {
				return nil, nil, err
			}
			p, rep = nil, nil
		}
	}
	if len(rep.Syms) != len(r.syms) {
		drop(p, "protocol")
		return nil, nil, fmt.Errorf("isolate: child looked up %d symbols, want %d: %w", len(rep.Syms), len(r.syms), ErrProtocol)
	}
	if p.lis != nil && p.lis.taken.Load() && !p.lis.running.Load() {
		// Its plugin's code has run (constructors) while the host
		// still let load-phase calls through (phase.go).
		drop(p, "protocol")
		return nil, nil, fmt.Errorf("isolate: the child loaded its plugin without entering its run phase: %w", ErrProtocol)
	}
	if loadedHook != nil {
		loadedHook(p.pid)
	}
	p.raise() // loaded: it serves at normal priority
	p.name.Store(&rep.Name)
	iso.mu.Lock()
	iso.report.Seccomp = rep.Seccomp
	iso.mu.Unlock()
	if err := iso.noteNamespaces(p, rep); err != nil {
		drop(p, "no namespaces")
		return nil, nil, err
	}
	iso.noteConfinement(rep) // confine_report.go
	iso.noteCgroup(p)        // cgroup.go
	r.log.Debug("started isolated plugin", "plugin", rep.Name, "path", r.req.Path, "pid", p.pid)
	return p, rep, nil
}

// childFiles are the descriptors a child inherits beside its channel.
type childFiles struct {
	// state is the plugin's state file, as wire.StateFD, or a spare's
	// socket that will bring it (state_spare.go).
	state *os.File
	// plugin is the plugin's file, as wire.PluginFD (handPlugin).
	plugin *os.File
}

// handPlugin opens the plugin at path for its child, or returns nil (a
// LoadBytes image; a file the host cannot open, which the child then
// opens itself and reports as it would have). The child's loader takes
// it for its open of path (wire.TakeFile): its load then makes no open
// round trip to the seccomp listener for the plugin itself. It is opened
// as the child's loader opens: the host's rights are the child's for
// this path (same uid, or root's before the drop), and a FIFO planted
// there must not block.
func handPlugin(path string) *os.File {
	if path == "" {
		return nil
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), path)
}

// newProc maps the memory for a request of up to cfgSize bytes and a
// reply of up to replySize, and starts a child on it, which waits for
// deliver (at once, or later for a spare). A spare gets pre, a request
// holding only the policy, to confine itself with while it waits. An
// idle child starts SCHED_IDLE, a cgIdle one in a cgroup marked idle
// where it can (priority.go, cgroup_idle.go; raise ends either).
func (iso *Isolator) newProc(cfgSize, replySize int, pre []byte, files childFiles, idle, cgIdle bool) (*proc, error) {
	const page = 4096
	cfgOff := hdrSize
	replyOff := (cfgOff + cfgSize + page - 1) &^ (page - 1)
	slotsOff := (replyOff + replySize + page - 1) &^ (page - 1)
	slotSize := slotHdr + (iso.opts.BufferSize+page-1)&^(page-1)
	nslots := slotCapacity(iso.opts.Channels, slotSize)
	size := slotsOff + nslots*slotSize

	fd, err := unix.MemfdCreate("runplug-isolate", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("isolate: memfd: %w", err)
	}
	memf := os.NewFile(uintptr(fd), "runplug-isolate")
	defer memf.Close()
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, fmt.Errorf("isolate: memfd: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("isolate: mmap: %w", err)
	}
	h := hdrAt(mem)
	h.magic, h.nslots, h.slotSize = magic, uint32(nslots), uint32(slotSize)
	h.active = uint32(iso.opts.Channels)
	h.cfgOff, h.replyOff, h.slotsOff = uint32(cfgOff), uint32(replyOff), uint32(slotsOff)
	if len(pre) > replyOff-cfgOff {
		unix.Munmap(mem)
		return nil, fmt.Errorf("isolate: policy of %d bytes, room for %d", len(pre), replyOff-cfgOff)
	}
	h.cfgLen = uint32(copy(mem[cfgOff:], pre))
	// The private area: per channel, room for copies of its host-call
	// area (strings, stack arguments) and a result in memory.
	dataSize := slotSize - slotHdr
	privSize := (2*(dataSize/8) + 64 + 15) &^ 15
	priv, err := unix.Mmap(-1, 0, nslots*privSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("isolate: mmap: %w", err)
	}
	p := &proc{iso: iso, mem: mem, priv: priv, hdr: h, done: make(chan struct{}), nfree: make(chan struct{}, iso.opts.Channels),
		cfgOff: cfgOff, cfgCap: replyOff - cfgOff, replyOff: replyOff, replyCap: slotsOff - replyOff}
	p.idle.Store(idle)
	p.cgIdle = cgIdle
	for i := 0; i < nslots; i++ {
		off := slotsOff + i*slotSize
		data := mem[off+slotHdr : off+slotSize]
		c := &hostChan{p: p, idx: i, h: chanAt(mem, off), data: data, hostArea: len(data) - len(data)/8,
			priv: priv[i*privSize : (i+1)*privSize : (i+1)*privSize]}
		p.chans = append(p.chans, c)
	}
	p.nactive.Store(int32(iso.opts.Channels))
	for _, c := range p.chans[:iso.opts.Channels] {
		p.release(c)
	}
	if pre != nil {
		// A spare gets the state file later, through a socket
		// (state_spare.go).
		child, err := p.stateSocket()
		if err != nil {
			p.unmap()
			return nil, err
		}
		defer child.Close()
		files.state = child
	}
	if !iso.opts.Policy.NoSeccomp {
		p.newListener() // listen.go: before the child can offer one
	}
	if err := iso.start(p, memf, pre != nil, files); err != nil {
		p.unmap()
		return nil, err
	}
	return p, nil
}

// nestBytes bounds the memory of the channels kept for nested calls
// (see slotCapacity).
const nestBytes = 8 << 20

// slotCapacity is the number of channels laid out for a child with
// channels in its pool: the pool and, up to maxSlots and nestBytes of
// memory in all, channels that calls nested in host functions and
// callbacks take when the pool has none free (call.go acquire). The
// memfd's pages cost nothing until a channel is used.
func slotCapacity(channels, slotSize int) int {
	return max(channels, min(maxSlots, nestBytes/slotSize))
}

// unmap releases the shared memory and the private area; no call may
// be in flight.
func (p *proc) unmap() {
	unix.Munmap(p.mem)
	unix.Munmap(p.priv)
	p.closeStateSocket()
}

// deliver gives the child its plugin: the request, then goWord.
func (p *proc) deliver(r *remote, cfg []byte) {
	p.r = r
	p.name.Store(&r.req.Name)
	h := p.hdr
	copy(p.mem[p.cfgOff:p.cfgOff+p.cfgCap], cfg) // the host's offset: a spare may have rewritten the header's
	h.cfgLen = uint32(len(cfg))
	atomic.StoreUint32(&h.goWord, 1)
	futexWake(&h.goWord)
}

// takeSpare returns the spare child when there is a live one whose areas
// fit the request and reply, else nil.
func (iso *Isolator) takeSpare(cfgLen, replySize int) *proc {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	p := iso.spare
	if p == nil || p.cfgCap < cfgLen || p.replyCap < replySize {
		return nil
	}
	iso.spare = nil
	if p.dead.Load() || p.exited() {
		go func() { <-p.done; p.unmap() }()
		return nil
	}
	return p
}

// refill starts a new spare child when Options.Spare asks for one and
// there is none.
func (iso *Isolator) refill() {
	if !iso.opts.Spare {
		return
	}
	iso.mu.Lock()
	busy := iso.closed || iso.spare != nil || iso.filling != nil
	var done chan struct{}
	if !busy {
		done = make(chan struct{})
		iso.filling = done
	}
	iso.mu.Unlock()
	if busy {
		return
	}
	defer close(done)
	pre := (&request{Policy: iso.opts.Policy}).marshal()
	// A spare is made ahead of its use: it starts idle (priority.go).
	p, err := iso.newProc(spareCfgSize, 64<<10+64*128, pre, childFiles{}, idleStarts(), false)
	iso.mu.Lock()
	iso.filling = nil
	if err == nil && !iso.closed {
		iso.spare, p = p, nil
	}
	iso.mu.Unlock()
	if err != nil {
		iso.log.Warn("spare child not started", "error", err)
		return
	}
	if p != nil { // closed meanwhile
		p.kill("close")
		<-p.done
		p.unmap()
	}
}

// Prestart starts the spare child now (Options.Spare) and waits until its
// runtime is up, so that the next Load or Restart only sends the request.
func (iso *Isolator) Prestart() error {
	if !iso.opts.Spare {
		return nil
	}
	var p *proc
	for p == nil {
		iso.refill()
		iso.mu.Lock()
		p = iso.spare
		filling := iso.filling
		iso.mu.Unlock()
		if p == nil && filling == nil {
			return fmt.Errorf("isolate: no spare child (closed, or it failed to start)")
		}
		if p == nil {
			<-filling
		}
	}
	return p.awaitWaiting()
}

// awaitWaiting waits until a spare child is confined and waits for its
// request.
func (p *proc) awaitWaiting() error {
	for {
		st := atomic.LoadUint32(&p.hdr.state)
		if st == stWaiting {
			return nil
		}
		if p.dead.Load() {
			return p.exitErr
		}
		if st != stStarting {
			return fmt.Errorf("isolate: spare child state %d: %w", st, ErrProtocol)
		}
		// The monitor's wake-up cannot change state: sleep briefly and
		// look at dead again.
		futexWaitTimeout(&p.hdr.state, st, time.Millisecond)
	}
}

// Close ends the spare child, if any; later starts spawn children
// directly. Plugins' children are ended by their Loader's Close. ctx
// bounds the wait for a spare being made; a nil ctx panics.
func (iso *Isolator) Close(ctx context.Context) error {
	if ctx == nil {
		panic("isolate: nil context.Context")
	}
	iso.mu.Lock()
	iso.closed = true
	p := iso.spare
	iso.spare = nil
	filling := iso.filling
	iso.mu.Unlock()
	if filling != nil {
		select {
		case <-filling: // it sees closed and ends its child
		case <-ctx.Done():
			return fmt.Errorf("isolate: close: waiting for the spare child: %w", ctx.Err())
		}
	}
	if p != nil {
		p.kill("close")
		<-p.done
		p.unmap()
	}
	return nil
}

// start execs the child: this very binary (/proc/self/exe), with the
// channel as its only descriptor besides /dev/null (stdin) and the pipes
// of its stdout and stderr (output.go),
// in a process group of its own, killed when the host dies. It asks the
// child's constructor (childrt.EnvEarlyNamespaces) for new user, mount,
// IPC and UTS namespaces and a new network namespace, or forks it from
// netSpawner into the shared one (see sharedNet): with no CLONE_NEWUSER
// at the fork, os/exec vforks instead of copying the host.
func (iso *Isolator) start(p *proc, memf *os.File, spare bool, files childFiles) error {
	rOut, wOut, rErr, wErr, err := pipes()
	if err != nil {
		return fmt.Errorf("isolate: output pipes: %w", err)
	}
	defer wOut.Close()
	defer wErr.Close()
	p.cg = iso.childCgroup(p.cgIdle)
	cmd, sp := iso.command(p, memf, spare, files, wOut, wErr)
	err = sp.start(cmd)
	if err != nil && p.cg != nil {
		// A kernel without clone3's CLONE_INTO_CGROUP (before 5.7),
		// or a cgroup it refuses: the rlimits alone, from now on.
		iso.noCgroup(fmt.Errorf("clone into %s: %w", p.cg.dir, err))
		p.removeCgroup()
		p.cg = nil
		cmd, sp = iso.command(p, memf, spare, files, wOut, wErr)
		err = sp.start(cmd)
	}
	if err != nil {
		rOut.Close()
		rErr.Close()
		return fmt.Errorf("isolate: start child: %w", err)
	}
	if p.cg != nil {
		p.cg.started()
	}
	p.out = copyOutput(rOut, rErr, iso.opts.Stdout, iso.opts.Stderr)
	if iso.opts.Policy.NoNamespaces {
		iso.mu.Lock()
		iso.report.Namespaces, iso.report.Missing = nil, []string{"namespaces: disabled by Policy.NoNamespaces: " + fallbackLoses}
		iso.mu.Unlock()
	}
	p.cmd, p.pid = cmd, cmd.Process.Pid
	pidfd, err := unix.PidfdOpen(p.pid, unix.PIDFD_NONBLOCK)
	var pf *os.File
	if err == nil {
		pf = os.NewFile(uintptr(pidfd), "pidfd")
	}
	p.pidf = pf
	if !iso.opts.Policy.NoSeccomp {
		p.startListener() // listen.go
	}
	go p.monitor(pf)
	return nil
}

// exited says whether the child's process has ended, even if the monitor
// has not reaped it yet (a spare killed from outside).
func (p *proc) exited() bool {
	p.reapMu.Lock()
	defer p.reapMu.Unlock()
	if p.reaped || p.pidf == nil {
		return p.reaped
	}
	rc, err := p.pidf.SyscallConn()
	if err != nil {
		return false
	}
	ended := false
	rc.Control(func(fd uintptr) {
		n, _ := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 0)
		ended = n > 0
	})
	return ended
}

// command makes the child's command and picks the spawner to start it
// from (see start), in p's cgroup if it has one.
func (iso *Isolator) command(p *proc, memf *os.File, spare bool, files childFiles, wOut, wErr *os.File) (*exec.Cmd, *spawner) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{"runplug-isolate"}
	// GOMAXPROCS and the GODEBUG settings: the child's runtime
	// then keeps no cgroup files open to follow the CPU quota (the
	// child must hold no descriptor but its own).
	// GLIBC_TUNABLES: with arena_max set, glibc's malloc does not
	// open /sys/devices/system/cpu/online the first time a thread
	// needs an arena (after the filter forbids opens, and on a new
	// thread whose signals are still blocked: the kernel would kill
	// the child without a report).
	cmd.Env = []string{fmt.Sprintf("%s=%d", envChild, childFD), fmt.Sprintf("GOMAXPROCS=%d", runtime.GOMAXPROCS(0)),
		"GODEBUG=containermaxprocs=0,updatemaxprocs=0", fmt.Sprintf("GLIBC_TUNABLES=glibc.malloc.arena_max=%d", 2*runtime.NumCPU())}
	if spare {
		cmd.Env = append(cmd.Env, envSpare+"=1")
	}
	cmd.Env = append(cmd.Env, testChildEnv...)

	if v, ok := os.LookupEnv("LD_LIBRARY_PATH"); ok {
		cmd.Env = append(cmd.Env, "LD_LIBRARY_PATH="+v)
	}
	// The child's constructor closes every descriptor but these, gives
	// up its capabilities and enters a Landlock domain
	// (childrt.EnvChildConfine); a root host's child keeps CAP_SETUID
	// and CAP_SETGID until it drops to its own uid (confine_uid.go).
	root := os.Geteuid() == 0
	cmd.ExtraFiles = []*os.File{memf}
	keep := childFD
	if files.state != nil || files.plugin != nil {
		// nil: closed in the child (os/exec), whatever the host holds
		// at that number.
		cmd.ExtraFiles, keep = append(cmd.ExtraFiles, files.state), wire.StateFD
	}
	if files.plugin != nil {
		cmd.ExtraFiles, keep = append(cmd.ExtraFiles, files.plugin), wire.PluginFD
		cmd.Env = append(cmd.Env, envPluginFile+"=1")
	}
	cmd.Env = append(cmd.Env, childrt.ChildConfineEnv(keep, root))
	// *os.File: os/exec passes them as they are, with no copying
	// goroutine of its own for Wait to wait for (output.go copies).
	cmd.Stdout, cmd.Stderr = wOut, wErr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if p.cg != nil {
		// clone3 with CLONE_INTO_CGROUP: in its cgroup before any of
		// its code runs (still a vfork).
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, p.cg.fd
	}
	if p.idle.Load() {
		cmd.Env = append(cmd.Env, childrt.IdleEnv) // priority.go
	}
	sp := plainSpawner
	p.nsAsked, p.nsShared = 0, false
	// Every child asks (a refused unshare costs microseconds), so that
	// each one's report is its own.
	if !iso.opts.Policy.NoNamespaces {
		// A root host's child needs no user namespace to make the
		// others, and one would map it to root: it drops to a uid of
		// its own instead (confine_uid.go).
		p.nsAsked = unix.CLONE_NEWNS | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWPID
		if !root {
			p.nsAsked |= unix.CLONE_NEWUSER
		}
		if sharedNet(iso.opts.Policy) && netSpawner.usable() == nil {
			sp, p.nsShared = netSpawner, true
		} else {
			p.nsAsked |= unix.CLONE_NEWNET
		}
		cmd.Env = append(cmd.Env, childrt.EarlyNamespacesEnv(p.nsAsked, os.Getpid()))
	}
	return cmd, sp
}

// nsNames are the namespaces a child may be asked for, in Report's
// words and order.
var nsNames = []struct {
	flag int
	name string
}{
	{unix.CLONE_NEWUSER, "user"}, {unix.CLONE_NEWNET, "net"}, {unix.CLONE_NEWNS, "mount"},
	{unix.CLONE_NEWIPC, "ipc"}, {unix.CLONE_NEWUTS, "uts"}, {unix.CLONE_NEWPID, "pid"},
}

// ownPid is the pid the plugin's process sees as its own, which its
// filters allow signals to: 2 in a PID namespace of its own (pidns.c:
// the namespace's init is 1), else the host's view. A child asked for
// the namespace that did not get it assembles its filters again
// (child.go, start).
func (p *proc) ownPid() int {
	if p.nsAsked&unix.CLONE_NEWPID != 0 {
		return childrt.PluginPidInNamespace
	}
	return p.pid
}

// noteNamespaces records in the Report the namespaces the child says its
// constructor made (rep.NSFlags, rep.NSErr), against what start asked.
// A child that could not make them all fails the load with
// ErrNoNamespaces, unless Policy.NamespaceFallback lets it run without
// them (in the shared network namespace if it was forked there): the
// Report says so, and the log once.
func (iso *Isolator) noteNamespaces(p *proc, rep *reply) error {
	if p.nsAsked == 0 {
		return nil
	}
	got := int(rep.NSFlags) & p.nsAsked
	var have, lack []string
	for _, n := range nsNames {
		switch {
		case n.flag == unix.CLONE_NEWNET && p.nsShared:
			have = append(have, "net-shared")
		case got&n.flag != 0:
			have = append(have, n.name)
		case p.nsAsked&n.flag != 0:
			lack = append(lack, n.name)
		}
	}
	var missing []string
	switch {
	case len(lack) > 0:
		why := rep.NSErr
		if why == "" {
			why = "not made, no reason given"
		}
		missing = []string{strings.Join(lack, ", ") + " namespaces: " + why}
	case rep.NSErr != "":
		missing = []string{"uid and gid maps: " + rep.NSErr}
	}
	if len(missing) > 0 && !iso.opts.Policy.NamespaceFallback {
		return fmt.Errorf("isolate: %s (Policy.NamespaceFallback runs the child without them: %s): %w", missing[0], fallbackLoses, ErrNoNamespaces)
	}
	iso.mu.Lock()
	defer iso.mu.Unlock()
	iso.report.Namespaces, iso.report.Missing = have, missing
	if len(missing) > 0 && iso.noNS == "" {
		iso.noNS = missing[0]
		iso.log.Warn("new namespaces not all available, isolating without them", "missing", missing[0], "loses", fallbackLoses)
	}
	return nil
}

// awaitStart waits for the child's reply to the load request, until ctx
// is done (the caller then kills the child).
func (p *proc) awaitStart(ctx context.Context) (*reply, error) {
	h := p.hdr
	for i := 0; ; i++ {
		st := atomic.LoadUint32(&h.state)
		if st != stStarting && st != stWaiting {
			break
		}
		if p.dead.Load() {
			return nil, p.exitErr
		}
		if err := ctx.Err(); err != nil {
			return nil, &pcall.DeadlineError{Plugin: p.r.req.Name, Pid: p.pid, Cause: err}
		}
		if p.lis != nil && atomic.LoadUint32(&h.listen) == listenOffered {
			p.lis.poke() // the offer woke this wait (listen.go)
		}
		if i < 100 {
			runtime.Gosched()
			continue
		}
		// The monitor's wake-up cannot change state, so sleep briefly
		// and look at dead again rather than risk a lost wake-up.
		futexWaitTimeout(&h.state, st, time.Millisecond)
	}
	// The child wrote the reply's length; where the reply is and how
	// much room it has are the host's own (p.replyOff, p.replyCap): the
	// header's offsets are never read back. The bytes are copied out
	// before they are decoded, since the child may still be writing.
	n := atomic.LoadUint32(&h.replyLen)
	if uint64(n) > uint64(p.replyCap) {
		return nil, fmt.Errorf("isolate: load reply of %d bytes, the area holds %d: %w", n, p.replyCap, ErrProtocol)
	}
	buf := make([]byte, n)
	copy(buf, p.mem[p.replyOff:])
	st := atomic.LoadUint32(&h.state)
	var rep reply
	if err := rep.unmarshal(buf); err != nil {
		return nil, fmt.Errorf("isolate: load reply (%d bytes): %v: %w", n, err, ErrProtocol)
	}
	if rep.Err != nil {
		err, why := decodeError(rep.Err)
		if why != nil {
			return nil, fmt.Errorf("isolate: load reply: error: %v: %w", why, ErrProtocol)
		}
		return nil, err
	}
	if st != stReady {
		return nil, fmt.Errorf("isolate: child state %d after its load reply, want %d (ready): %w", st, stReady, ErrProtocol)
	}
	return &rep, nil
}

// monitor waits for the child to end (on its pidfd, through the Go
// runtime's poller: no thread blocks), reaps it, and wakes every call
// waiting on it.
func (p *proc) monitor(pidfd *os.File) {
	if pidfd != nil {
		if rc, err := pidfd.SyscallConn(); err == nil {
			rc.Read(func(fd uintptr) bool {
				pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				n, _ := unix.Poll(pfd, 0)
				return n > 0
			})
		}
	}
	p.cpu = zombieCPU(p.pid) // before the reaping (Wait's waitid gives no rusage)
	p.reapMu.Lock()
	// What is left of its process group (in a PID namespace, the reaper
	// and the plugin's process, which the host's child's death also
	// ends, a moment later) dies now, before the host calls it dead; the
	// group's id is the unreaped child's pid, not reused yet.
	unix.Kill(-p.pid, unix.SIGKILL)
	p.cmd.Wait() // the status is in ProcessState
	p.reaped = true
	if pidfd != nil {
		pidfd.Close()
	}
	p.reapMu.Unlock()
	p.stopListener()
	p.exitErr = p.describeExit()
	p.removeCgroup()
	p.dead.Store(true)
	for _, c := range p.chans[:p.nactive.Load()] {
		atomic.AddUint32(&c.h.toHost, 1)
		futexWake(&c.h.toHost)
	}
	futexWake(&p.hdr.state)
	close(p.done)
	p.iso.log.Debug("isolated plugin exited", "pid", p.pid, "error", p.exitErr)
}

// describeExit turns the child's end into an error: a *SyscallError when
// its SIGSYS handler reported a forbidden system call, else an
// *ExitError.
func (p *proc) describeExit() error {
	if e := p.trapped.Load(); e != nil {
		return e
	}
	name := p.pluginName()
	sys := &p.hdr.sys
	if atomic.LoadUint32(&sys.Set) == 1 {
		e := &SyscallError{Plugin: name, Pid: p.pid, PC: uintptr(sys.PC)}
		e.Arch, e.Nr, e.Name = nameSyscall(atomic.LoadUint32(&sys.Arch), uint32(sys.Nr))
		return e
	}
	if st := p.cmd.ProcessState; st != nil {
		if ws := st.Sys().(syscall.WaitStatus); ws.Signaled() && ws.Signal() == syscall.SIGSYS {
			// A trap on a thread that blocked SIGSYS: the kernel killed
			// the process before the handler could report.
			return &SyscallError{Plugin: name, Pid: p.pid, Nr: -1, Name: "(unknown: trapped with SIGSYS blocked; " + p.unnamedWhy() + ")"}
		}
	}
	e := &ExitError{Plugin: name, Pid: p.pid}
	if r := p.reason.Load(); r != nil {
		e.Reason = *r
	}
	if e.Reason == "" && p.cg != nil {
		if n := p.cg.oomKills(); n > 0 {
			e.Reason = fmt.Sprintf("memory limit (%d MiB, cgroup memory.max) reached: the OOM killer ended the child", memoryLimit(p.iso.opts.Policy)>>20)
		}
	}
	if st := p.cmd.ProcessState; st != nil && e.Reason == "" {
		// The kernel's SIGKILL at RLIMIT_CPU: the child used its CPU time.
		lim := cpuTime(p.iso.opts.Policy)
		if ws := st.Sys().(syscall.WaitStatus); lim > 0 && ws.Signaled() && ws.Signal() == syscall.SIGKILL &&
			p.cpu >= lim.Truncate(time.Second)/2 { // /proc's utime+stime are sampled by ticks, and lag
			e.Reason = fmt.Sprintf("CPU time limit (%v, RLIMIT_CPU) reached", lim)
		}
	}
	if st := p.cmd.ProcessState; st != nil {
		ws := st.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			e.Signal = ws.Signal()
		} else {
			e.Status = ws.ExitStatus()
		}
	}
	return e
}

// kill ends the child (at most once matters; later calls do nothing).
func (p *proc) kill(reason string) {
	p.reason.CompareAndSwap(nil, &reason)
	p.reapMu.Lock()
	defer p.reapMu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || p.reaped {
		return
	}
	// In a PID namespace, the init and the plugin's process: the host's
	// child reaps them and ends as the plugin's process did (pidns.c),
	// leaving no process of the child for another reaper.
	if p.nsAsked&unix.CLONE_NEWPID != 0 && killChildren(p.pid) {
		return
	}
	// Else its process group at once (the child is not reaped, so the
	// group's id is still its), and the child through its pidfd.
	unix.Kill(-p.pid, unix.SIGKILL)
	if p.cmd != nil && p.cmd.Process != nil {
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil { // through its pidfd: no pid reuse
			p.iso.log.Warn("kill failed", "pid", p.pid, "error", err)
		}
	}
}

// killChildren sends SIGKILL to the children of pid, an unreaped child
// of this process; it says whether it had any. Each is named by a pidfd
// opened while it was listed as pid's child and is still listed after:
// a pid reused meanwhile is never signalled.
func killChildren(pid int) bool {
	kids := childrenOf(pid)
	if len(kids) == 0 {
		return false
	}
	fds := make([]int, len(kids))
	for i, k := range kids {
		fd, err := unix.PidfdOpen(k, 0)
		if err != nil {
			fd = -1 // ended and reaped already
		}
		fds[i] = fd
	}
	still := childrenOf(pid)
	for i, k := range kids {
		if fds[i] < 0 {
			continue
		}
		if slices.Contains(still, k) {
			unix.PidfdSendSignal(fds[i], unix.SIGKILL, nil, 0)
		}
		unix.Close(fds[i])
	}
	return true
}

// childrenOf lists the children of pid's main thread (/proc).
func childrenOf(pid int) []int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var kids []int
	for _, f := range strings.Fields(string(b)) {
		if k, err := strconv.Atoi(f); err == nil {
			kids = append(kids, k)
		}
	}
	return kids
}

// zombieCPU returns the CPU time (user + system) of an ended, not yet
// reaped child and of the children it reaped, from /proc/PID/stat (0
// when unreadable).
func zombieCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) in parentheses:
	// state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0
	}
	// utime, stime, and cutime, cstime: the children it reaped (in a
	// PID namespace, the plugin's process is its grandchild, pidns.c).
	var sum uint64
	for _, s := range f[11:15] {
		v, _ := strconv.ParseUint(s, 10, 64)
		sum += v
	}
	return time.Duration(sum) * time.Second / 100 // USER_HZ
}
