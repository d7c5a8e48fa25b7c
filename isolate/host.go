//go:build linux && amd64 && cgo

package isolate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/loader"
	"github.com/runplug/runplug/sandbox"
)

// Isolator starts isolated plugins: set it as loader.Options.Isolation.
type Isolator struct {
	opts Options
	log  hclog.Logger

	mu      sync.Mutex
	noNS    string // why new namespaces are not available ("" untried or fine)
	report  Report
	spare   *proc         // a child started ahead, waiting for its plugin (Options.Spare)
	filling chan struct{} // closed when the spare being started is in place
	closed  bool
}

// New returns an Isolator with the given options, for
// loader.Options.Isolation:
//
//	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
func New(opts Options) *Isolator {
	if opts.Channels <= 0 {
		opts.Channels = 4
	}
	opts.Channels = min(opts.Channels, maxSlots)
	if opts.BufferSize <= 0 {
		opts.BufferSize = 60 << 10
	}
	if opts.Restart.MaxBackoff == 0 {
		opts.Restart.MaxBackoff = 10 * time.Second
	}
	iso := &Isolator{opts: opts, log: opts.Logger}
	if iso.log == nil {
		iso.log = hclog.NewNullLogger()
	}
	return iso
}

// Report says what confinement the last child started got.
func (iso *Isolator) Report() Report {
	iso.mu.Lock()
	defer iso.mu.Unlock()
	r := iso.report
	r.Namespaces = append([]string(nil), r.Namespaces...)
	r.Missing = append([]string(nil), r.Missing...)
	return r
}

// Start implements loader.Isolation: it starts a child process and loads
// the plugin in it.
func (iso *Isolator) Start(req *loader.RemoteLoad) (loader.Remote, error) {
	if err := checkNames(iso.opts.Policy.Allow); err != nil {
		return nil, err
	}
	r := &remote{iso: iso, req: req, hostFns: req.HostFuncs, log: iso.log}
	if req.Logger != nil {
		r.log = req.Logger
	}
	r.backoff = iso.opts.Restart.Backoff
	p, rep, err := iso.spawn(r)
	if err != nil {
		return nil, err
	}
	r.name = rep.Name
	r.cur.Store(p)
	return r, nil
}

// remote is one isolated plugin (loader.Remote).
type remote struct {
	iso     *Isolator
	req     *loader.RemoteLoad
	hostFns []loader.RemoteHostFunc
	log     hclog.Logger
	name    string
	cur     atomic.Pointer[proc]

	mu   sync.Mutex // lookups and restarts
	syms []symKey   // by handle
	info []loader.RemoteSymbol

	rmu         sync.Mutex // the restart policy's state
	restarts    int
	lastRestart time.Time
	backoff     time.Duration
}

// proc is one child process and the memory shared with it.
type proc struct {
	iso   *Isolator
	r     *remote // set by deliver, before any call
	cmd   *exec.Cmd
	pid   int
	mem   []byte
	hdr   *header
	chans []*hostChan
	free  chan *hostChan

	name atomic.Pointer[string] // the plugin's name, once loaded
	dead atomic.Bool
	cpu  time.Duration // CPU time used, read when it ended
	// the sizes of the request and reply areas
	cfgCap, replyCap int
	exitErr          error // set before dead
	reason           atomic.Pointer[string]
	done             chan struct{} // closed once the child is reaped
}

// hostChan is the host's side of a channel.
type hostChan struct {
	p        *proc
	h        *chanHdr
	data     []byte
	seen     uint32 // the last toHost value handled
	hostArea int
	panicVal any // the value of a host function's panic in this call
}

// spawner runs every child's fork on one thread that never exits: the
// parent-death signal (PR_SET_PDEATHSIG) fires when the thread that
// forked the child ends, not the process, and the Go runtime may end a
// thread.
var (
	spawnOnce sync.Once
	spawnCh   = make(chan spawnReq)
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func spawner() {
	runtime.LockOSThread() // and never unlocked: the thread stays
	for req := range spawnCh {
		req.done <- req.cmd.Start()
	}
}

func startOnSpawner(cmd *exec.Cmd) error {
	spawnOnce.Do(func() { go spawner() })
	done := make(chan error, 1)
	spawnCh <- spawnReq{cmd, done}
	return <-done
}

// spareCfgSize is the request area of a spare child (a larger request,
// such as a big LoadBytes image, starts a child of its own).
const spareCfgSize = 256 << 10

// spawn starts a child for r (or takes the spare) and waits until it has
// loaded the plugin.
func (iso *Isolator) spawn(r *remote) (*proc, *reply, error) {
	req := request{Path: r.req.Path, Name: r.req.Name, Image: r.req.Image, Policy: iso.opts.Policy, Syms: r.syms}
	o := r.req.Options
	req.Loader = loaderOptions{SearchPath: o.SearchPath, GuardSize: o.GuardSize, NoHostC: o.NoHostC,
		AllowC: o.AllowC, AllowWriteExec: o.AllowWriteExec, TombstoneBudget: o.TombstoneBudget}
	for _, h := range r.hostFns {
		req.Host = append(req.Host, hostFunc{Name: h.Name, Strings: h.Strings})
	}
	cfg, err := json.Marshal(&req)
	if err != nil {
		return nil, nil, fmt.Errorf("isolate: %w", err)
	}
	replySize := 64<<10 + len(r.syms)*128
	p := iso.takeSpare(len(cfg), replySize)
	if p != nil {
		// The next spare starts once this one is loaded, not during.
		defer func() { go iso.refill() }()
	} else {
		if p, err = iso.newProc(len(cfg), replySize); err != nil {
			return nil, nil, err
		}
	}
	p.deliver(r, cfg)
	rep, err := p.awaitStart()
	if err != nil {
		p.kill("load failed")
		<-p.done
		unix.Munmap(p.mem)
		return nil, nil, err
	}
	if len(rep.Syms) != len(r.syms) {
		p.kill("protocol")
		<-p.done
		unix.Munmap(p.mem)
		return nil, nil, fmt.Errorf("isolate: child looked up %d symbols, want %d: %w", len(rep.Syms), len(r.syms), ErrProtocol)
	}
	p.name.Store(&rep.Name)
	iso.mu.Lock()
	iso.report.Seccomp = rep.Seccomp
	iso.mu.Unlock()
	r.log.Debug("started isolated plugin", "plugin", rep.Name, "path", r.req.Path, "pid", p.pid)
	return p, rep, nil
}

// newProc maps the memory for a request of up to cfgSize bytes and a
// reply of up to replySize, and starts a child on it, which waits for
// deliver (at once, or later for a spare).
func (iso *Isolator) newProc(cfgSize, replySize int) (*proc, error) {
	const page = 4096
	cfgOff := hdrSize
	replyOff := (cfgOff + cfgSize + page - 1) &^ (page - 1)
	slotsOff := (replyOff + replySize + page - 1) &^ (page - 1)
	slotSize := slotHdr + (iso.opts.BufferSize+page-1)&^(page-1)
	size := slotsOff + iso.opts.Channels*slotSize

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
	h.magic, h.nslots, h.slotSize = magic, uint32(iso.opts.Channels), uint32(slotSize)
	h.cfgOff, h.replyOff, h.slotsOff = uint32(cfgOff), uint32(replyOff), uint32(slotsOff)
	p := &proc{iso: iso, mem: mem, hdr: h, done: make(chan struct{}), free: make(chan *hostChan, iso.opts.Channels),
		cfgCap: replyOff - cfgOff, replyCap: slotsOff - replyOff}
	for i := 0; i < iso.opts.Channels; i++ {
		off := slotsOff + i*slotSize
		data := mem[off+slotHdr : off+slotSize]
		c := &hostChan{p: p, h: chanAt(mem, off), data: data, hostArea: len(data) - len(data)/8}
		p.chans = append(p.chans, c)
		p.free <- c
	}
	if err := iso.start(p, memf); err != nil {
		unix.Munmap(mem)
		return nil, err
	}
	return p, nil
}

// deliver gives the child its plugin: the request, then goWord.
func (p *proc) deliver(r *remote, cfg []byte) {
	p.r = r
	p.name.Store(&r.req.Name)
	h := p.hdr
	copy(p.mem[h.cfgOff:], cfg)
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
	if p.dead.Load() {
		go func() { <-p.done; unix.Munmap(p.mem) }()
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
	p, err := iso.newProc(spareCfgSize, 64<<10+64*128)
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
		unix.Munmap(p.mem)
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
	for atomic.LoadUint32(&p.hdr.state) != stWaiting {
		if p.dead.Load() {
			return p.exitErr
		}
		futexWaitTimeout(&p.hdr.state, atomic.LoadUint32(&p.hdr.state), time.Millisecond)
	}
	return nil
}

// Close ends the spare child, if any; later starts spawn children
// directly. Plugins' children are ended by their Loader's Close.
func (iso *Isolator) Close() error {
	iso.mu.Lock()
	iso.closed = true
	p := iso.spare
	iso.spare = nil
	filling := iso.filling
	iso.mu.Unlock()
	if filling != nil {
		<-filling // it sees closed and ends its child
	}
	if p != nil {
		p.kill("close")
		<-p.done
		unix.Munmap(p.mem)
	}
	return nil
}

// start forks and execs the child: this very binary (/proc/self/exe),
// with the channel as its only descriptor besides /dev/null (or the
// Stderr pipe), in a process group of its own, killed when the host
// dies, in new user, network and mount namespaces when the kernel lets
// it.
func (iso *Isolator) start(p *proc, memf *os.File) error {
	for {
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
		if v, ok := os.LookupEnv("LD_LIBRARY_PATH"); ok {
			cmd.Env = append(cmd.Env, "LD_LIBRARY_PATH="+v)
		}
		cmd.ExtraFiles = []*os.File{memf}
		cmd.Stderr = iso.opts.Stderr
		attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		iso.mu.Lock()
		useNS := !iso.opts.Policy.NoNamespaces && iso.noNS == ""
		iso.mu.Unlock()
		if useNS {
			attr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getuid(), HostID: os.Getuid(), Size: 1}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}}
		}
		cmd.SysProcAttr = attr
		err := startOnSpawner(cmd)
		if err != nil && useNS {
			iso.mu.Lock()
			iso.noNS = err.Error()
			iso.report.Namespaces = nil
			iso.report.Missing = []string{"user, net, mount, ipc, uts namespaces: " + err.Error()}
			iso.mu.Unlock()
			iso.log.Warn("new namespaces not available, isolating without them", "error", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("isolate: start child: %w", err)
		}
		if useNS {
			iso.mu.Lock()
			iso.report.Namespaces = []string{"user", "net", "mount", "ipc", "uts"}
			iso.report.Missing = nil
			iso.mu.Unlock()
		} else if iso.opts.Policy.NoNamespaces {
			iso.mu.Lock()
			iso.report.Namespaces, iso.report.Missing = nil, []string{"namespaces: disabled by Policy.NoNamespaces"}
			iso.mu.Unlock()
		}
		p.cmd, p.pid = cmd, cmd.Process.Pid
		pidfd, err := unix.PidfdOpen(p.pid, unix.PIDFD_NONBLOCK)
		var pf *os.File
		if err == nil {
			pf = os.NewFile(uintptr(pidfd), "pidfd")
		}
		go p.monitor(pf)
		return nil
	}
}

// awaitStart waits for the child's reply to the load request.
func (p *proc) awaitStart() (*reply, error) {
	h := p.hdr
	for i := 0; ; i++ {
		st := atomic.LoadUint32(&h.state)
		if st != stStarting && st != stWaiting {
			break
		}
		if p.dead.Load() {
			return nil, p.exitErr
		}
		if i < 100 {
			runtime.Gosched()
			continue
		}
		// The monitor's wake-up cannot change state, so sleep briefly
		// and look at dead again rather than risk a lost wake-up.
		futexWaitTimeout(&h.state, st, time.Millisecond)
	}
	if uint64(h.replyOff)+uint64(h.replyLen) > uint64(h.slotsOff) {
		return nil, fmt.Errorf("isolate: reply length %d: %w", h.replyLen, ErrProtocol)
	}
	var rep reply
	if err := json.Unmarshal(p.mem[h.replyOff:h.replyOff+h.replyLen], &rep); err != nil {
		return nil, fmt.Errorf("isolate: reply: %v: %w", err, ErrProtocol)
	}
	if rep.Err != "" {
		return nil, &RemoteError{Msg: rep.Err, Err: sentinel(rep.Code)}
	}
	if atomic.LoadUint32(&h.state) != stReady {
		return nil, fmt.Errorf("isolate: child state %d: %w", h.state, ErrProtocol)
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
	p.cmd.Wait()             // the status is in ProcessState
	if pidfd != nil {
		pidfd.Close()
	}
	p.exitErr = p.describeExit()
	p.dead.Store(true)
	for _, c := range p.chans {
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
	name := "(spare)"
	if n := p.name.Load(); n != nil {
		name = *n
	}
	sys := &p.hdr.sys
	if atomic.LoadUint32(&sys.Set) == 1 {
		return &SyscallError{Plugin: name, Pid: p.pid, Nr: int(sys.Nr), Name: syscallName(int(sys.Nr)), PC: uintptr(sys.PC)}
	}
	if st := p.cmd.ProcessState; st != nil {
		if ws := st.Sys().(syscall.WaitStatus); ws.Signaled() && ws.Signal() == syscall.SIGSYS {
			// A trap on a thread that blocked SIGSYS: the kernel killed
			// the process before the handler could report.
			return &SyscallError{Plugin: name, Pid: p.pid, Nr: -1, Name: "(unknown: trapped with SIGSYS blocked)"}
		}
	}
	e := &ExitError{Plugin: name, Pid: p.pid}
	if r := p.reason.Load(); r != nil {
		e.Reason = *r
	}
	if st := p.cmd.ProcessState; st != nil && e.Reason == "" {
		// The kernel's SIGKILL at RLIMIT_CPU: the child used its CPU time.
		lim := p.iso.opts.Policy.CPUTime
		if ws := st.Sys().(syscall.WaitStatus); lim > 0 && ws.Signaled() && ws.Signal() == syscall.SIGKILL &&
			p.cpu >= lim.Truncate(time.Second)*9/10 { // /proc's utime+stime are sampled by ticks
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
	if p.cmd != nil && p.cmd.Process != nil {
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil { // through its pidfd: no pid reuse
			p.iso.log.Warn("kill failed", "pid", p.pid, "error", err)
		}
	}
}

// acquire takes a free channel, or fails when the child is dead.
func (p *proc) acquire() (*hostChan, error) {
	if p.dead.Load() {
		return nil, p.exitErr
	}
	select {
	case c := <-p.free:
		return c, nil
	default:
	}
	select {
	case c := <-p.free:
		return c, nil
	case <-p.done:
		return nil, p.exitErr
	}
}

func (p *proc) release(c *hostChan) { p.free <- c }

// roundTrip sends the request in c and waits for the reply, serving the
// host calls the plugin makes meanwhile. ctx may be nil; when it is done
// first, the child is killed.
func (c *hostChan) roundTrip(ctx context.Context) error {
	p := c.p
	if p.dead.Load() {
		return p.exitErr
	}
	if ctx != nil && ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			return &DeadlineError{Plugin: p.r.name, Cause: err}
		}
		stop := context.AfterFunc(ctx, func() { p.kill("deadline") })
		defer stop()
	}
	h := c.h
	c.panicVal = nil
	post(&h.toChild, &h.childWaiting)
	for {
		v, ok := waitChange(&h.toHost, &h.hostWaiting, c.seen, &p.dead, hostSpin)
		if !ok || p.dead.Load() {
			<-p.done // exitErr is complete
			if ctx != nil && ctx.Err() != nil {
				if r := p.reason.Load(); r != nil && *r == "deadline" {
					return &DeadlineError{Plugin: p.r.name, Cause: ctx.Err()}
				}
			}
			return p.exitErr
		}
		c.seen = v
		switch h.kind {
		case opResult:
			return nil
		case opHostCall:
			if err := c.hostCall(); err != nil {
				p.kill("protocol")
				return err
			}
			h.kind = opHostRet
			post(&h.toChild, &h.childWaiting)
		default:
			p.kill("protocol")
			return fmt.Errorf("isolate: message kind %d: %w", h.kind, ErrProtocol)
		}
	}
}

// hostCall runs the host function the plugin called and leaves its
// result in the channel. String arguments are read from the copies the
// child made in the channel (checked to lie in it, NUL-terminated).
func (c *hostChan) hostCall() error {
	h := c.h
	r := c.p.r
	if int(h.handle) >= len(r.hostFns) {
		return fmt.Errorf("isolate: host function %d: %w", h.handle, ErrProtocol)
	}
	fn := r.hostFns[h.handle]
	a := sandbox.Args{Int: h.ints, Float: h.floats}
	for j := 0; j < 6; j++ {
		if fn.Strings&(1<<j) == 0 {
			continue
		}
		d := h.strs[j]
		if int(d.off) < c.hostArea || uint64(d.off)+uint64(d.n) >= uint64(len(c.data)) {
			return fmt.Errorf("isolate: host function %s: string argument %d at %d+%d: %w", fn.Name, j, d.off, d.n, ErrProtocol)
		}
		c.data[d.off+d.n] = 0 // the child may have changed it since
		a.Int[j] = addrOf(c.data[d.off:])
	}
	res, pv := callHost(fn.Call, &a)
	if pv != nil {
		c.panicVal = pv
		h.status = statusHostPanic
		h.msgLen = uint32(putStrings(c.data[c.hostArea:], fn.Name, fmt.Sprint(pv)))
		return nil
	}
	h.status = statusOK
	h.resInt, h.resF = res.Int, res.Float
	return nil
}

// callHost calls a host function, recovering its panic.
func callHost(fn loader.RawHostFunc, a *sandbox.Args) (r sandbox.Result, pv any) {
	defer func() {
		if v := recover(); v != nil {
			pv = v
		}
	}()
	return fn(a), nil
}

// replyErr turns the child's reply status into an error.
func (c *hostChan) replyErr() error {
	h := c.h
	switch h.status {
	case statusOK:
		return nil
	case statusFault:
		ss, _ := readStrings(c.data, int(h.msgLen), 4)
		for len(ss) < 4 {
			ss = append(ss, "")
		}
		return &sandbox.FaultError{Signal: syscall.Signal(h.sig), Code: h.fcode, Addr: uintptr(h.addr), PC: uintptr(h.pc),
			Plugin: ss[0], Symbol: ss[1], Object: ss[2], Where: ss[3]}
	case statusHostPanic:
		fn, msg, _ := readStrings2(c.data, int(h.msgLen))
		var v any = msg
		if c.panicVal != nil {
			v = c.panicVal
		}
		return &sandbox.HostPanicError{Func: fn, Value: v}
	}
	msg, _, _ := readStrings2(c.data, int(h.msgLen))
	return &RemoteError{Msg: msg, Err: sentinel(h.code)}
}

// Name implements loader.Remote.
func (r *remote) Name() string { return r.name }

// CallInts implements loader.Remote: integers in place, no buffer.
func (r *remote) CallInts(handle uint32, ints [6]uint64, n int) (sandbox.Result, error) {
	p := r.cur.Load()
	c, err := p.acquire()
	if err != nil {
		return sandbox.Result{}, err
	}
	h := c.h
	h.kind, h.handle, h.nints = opCallInts, handle, uint32(n)
	h.ints = ints
	var res sandbox.Result
	if err = c.roundTrip(nil); err == nil {
		if err = c.replyErr(); err == nil {
			res.Int = h.resInt
		}
	}
	p.release(c)
	return res, err
}

// Call implements loader.Remote.
func (r *remote) Call(ctx context.Context, handle uint32, a sandbox.Args, bufs []loader.Buffer) (sandbox.Result, error) {
	p := r.cur.Load()
	c, err := p.acquire()
	if err != nil {
		return sandbox.Result{}, err
	}
	defer p.release(c)
	h := c.h
	h.kind, h.handle, h.nbufs = opCall, handle, uint32(len(bufs))
	h.ints, h.floats = a.Int, a.Float
	off := 0
	for i, b := range bufs {
		n := len(b.Data)
		if off+n > c.hostArea {
			return sandbox.Result{}, fmt.Errorf("isolate: %d bytes of buffers, the channel holds %d: %w", off+n, c.hostArea, ErrBufferTooLarge)
		}
		copy(c.data[off:], b.Data)
		h.bufs[i] = bufDesc{slot: uint32(b.Slot), off: uint32(off), n: uint32(n)}
		off = (off + n + 15) &^ 15
	}
	var res sandbox.Result
	if err = c.roundTrip(ctx); err == nil {
		if err = c.replyErr(); err == nil {
			res.Int, res.Float = h.resInt, h.resF
			for i, b := range bufs {
				if b.Out {
					d := h.bufs[i] // the child cannot move it: checked again
					if uint64(d.off)+uint64(len(b.Data)) <= uint64(c.hostArea) {
						copy(b.Data, c.data[d.off:])
					}
				}
			}
		}
	}
	return res, err
}

// Lookup implements loader.Remote.
func (r *remote) Lookup(name, version string) (loader.RemoteSymbol, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := symKey{name, version}
	for i, k := range r.syms {
		if k == key {
			return r.info[i], nil
		}
	}
	p := r.cur.Load()
	c, err := p.acquire()
	if err != nil {
		return loader.RemoteSymbol{}, err
	}
	defer p.release(c)
	h := c.h
	h.kind = opLookup
	h.inLen = uint32(putStrings(c.data[:c.hostArea], name, version))
	if err := c.roundTrip(nil); err != nil {
		return loader.RemoteSymbol{}, err
	}
	if h.status != statusOK {
		if s := sentinel(h.code); s != nil {
			return loader.RemoteSymbol{}, s
		}
		return loader.RemoteSymbol{}, c.replyErr()
	}
	if int(h.handle) != len(r.syms) {
		p.kill("protocol")
		return loader.RemoteSymbol{}, fmt.Errorf("isolate: handle %d, want %d: %w", h.handle, len(r.syms), ErrProtocol)
	}
	ver, _, _ := readStrings2(c.data, int(h.msgLen))
	s := loader.RemoteSymbol{Handle: h.handle, Symbol: loader.Symbol{Name: name, Addr: uintptr(h.symAddr), Size: h.symSize, Func: h.symFunc != 0, Version: ver}}
	r.syms = append(r.syms, key)
	r.info = append(r.info, s)
	return s, nil
}

// Restart implements loader.Remote.
func (r *remote) Restart() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	old.kill("restart")
	<-old.done
	p, _, err := r.iso.spawn(r)
	if err != nil {
		// Leave the dead proc in place, still mapped: calls fail with
		// its error.
		return err
	}
	r.cur.Store(p)
	unix.Munmap(old.mem) // no call in flight: the loader holds its lock
	return nil
}

// AutoRestart implements loader.Remote.
func (r *remote) AutoRestart() bool {
	pol := r.iso.opts.Restart
	r.rmu.Lock()
	defer r.rmu.Unlock()
	if r.restarts >= pol.Max || time.Since(r.lastRestart) < r.backoff {
		return false
	}
	r.restarts++
	if !r.lastRestart.IsZero() {
		r.backoff = min(max(2*r.backoff, pol.Backoff), pol.MaxBackoff)
	}
	r.lastRestart = time.Now()
	return true
}

// Close implements loader.Remote: a graceful close asks the child to run
// the destructors and exit (and kills it after a second); otherwise, or
// then, the child is killed. The child is reaped before Close returns.
func (r *remote) Close(graceful bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.cur.Load()
	var err error
	if graceful && !p.dead.Load() {
		if c, aerr := p.acquire(); aerr == nil {
			c.h.kind = opClose
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if rerr := c.roundTrip(ctx); rerr == nil {
				err = c.replyErr()
			}
			cancel()
		}
	}
	p.kill("close")
	<-p.done
	unix.Munmap(p.mem)
	return err
}

// Pid returns the process id of an isolated plugin's current child, for
// tests and diagnostics (0 when the Remote is not this package's).
func Pid(r loader.Remote) int {
	if rr, ok := r.(*remote); ok {
		return rr.cur.Load().pid
	}
	return 0
}

// PluginPid returns the process id of an isolated plugin's current
// child (0 for a plugin in the host's address space).
func PluginPid(p *loader.Plugin) int { return Pid(p.Remote()) }

var _ loader.Isolation = (*Isolator)(nil)

// zombieCPU returns the CPU time (user + system) of an ended, not yet
// reaped child from /proc/PID/stat (0 when unreadable).
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
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}
