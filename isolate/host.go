//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/loader"
)

// Isolator starts isolated plugins: set it as loader.Options.Isolation.
type Isolator struct {
	opts Options
	log  hclog.Logger

	mu      sync.Mutex
	noNS    string // why new namespaces were not all made, once logged ("" until then)
	report  Report
	cg      cgroups       // the children's cgroup (cgroup.go)
	cgOff   error         // why children are no longer put in cgroups (nil: they are)
	idleOff error         // why background starts are not in idle cgroups (cgroup_idle.go)
	spare   *proc         // a child started ahead, waiting for its plugin (Options.Spare)
	cls     classifier    // the listener's view of the load filter (phase.go)
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

// startRemote is wire.StartRemote: it starts a child process and loads the
// plugin in it.
func (iso *Isolator) startRemote(ctx context.Context, req *wire.RemoteLoad) (wire.Remote, error) {
	if err := checkNames(iso.opts.Policy.Allow); err != nil {
		return nil, err
	}
	if err := checkLimits(iso.opts, len(req.HostFuncs) > 0); err != nil {
		return nil, err
	}
	r := &remote{iso: iso, req: req, hostFns: req.HostFuncs, log: iso.log}
	if req.Logger != nil {
		r.log = req.Logger
	}
	r.backoff = iso.opts.Restart.Backoff
	p, rep, err := iso.spawn(ctx, r)
	if err != nil {
		return nil, err
	}
	r.name = rep.Name
	r.cur.Store(p)
	return r, nil
}

// remote is one isolated plugin (wire.Remote).
type remote struct {
	iso     *Isolator
	req     *wire.RemoteLoad
	hostFns []wire.RemoteHostFunc
	log     hclog.Logger
	name    string
	cur     atomic.Pointer[proc]

	mu   sync.Mutex // lookups and restarts
	syms []symKey   // by handle
	info []wire.RemoteSymbol

	rmu         sync.Mutex // the restart policy's state
	restarts    int
	lastRestart time.Time
	backoff     time.Duration

	callbacks // the Callbacks passed to the plugin (frame.go)
}

// proc is one child process and the memory shared with it.
type proc struct {
	iso   *Isolator
	r     *remote // set by deliver, before any call
	cmd   *exec.Cmd
	pid   int
	mem   []byte
	priv  []byte // the channels' private areas (hostChan.priv)
	hdr   *header
	chans []*hostChan // all laid out; the first nactive are served
	// The free channels of the pool (Options.Channels): a stack (see
	// acquire), and one token in nfree per channel on it. nested holds
	// the free channels beyond the pool, which only nested calls take.
	freeMu  sync.Mutex
	free    []*hostChan
	nfree   chan struct{}
	nested  []*hostChan
	nactive atomic.Int32

	name atomic.Pointer[string] // the plugin's name, once loaded
	dead atomic.Bool
	cpu  time.Duration // CPU time used, read when it ended
	// where the request and reply areas are and their sizes: the host's
	// own, never read back from the header the child can write
	cfgOff, cfgCap, replyOff, replyCap int
	exitErr                            error // set before dead
	reason                             atomic.Pointer[string]
	done                               chan struct{} // closed once the child is reaped
	out                                *output       // the copies of its stdout and stderr (output.go)
	nsAsked                            int           // CLONE_NEW* flags asked of the child's constructor (spawn.go start)
	nsShared                           bool          // forked in netSpawner's network namespace
	cg                                 *childCgroup  // its cgroup (cgroup.go), nil when none
	pidf                               *os.File      // its pidfd (nil: none), closed once reaped
	reapMu                             sync.Mutex    // held while it is reaped; kill holds it to signal its group
	reaped                             bool
	// idle: started SCHED_IDLE and not raised yet (priority.go).
	idle atomic.Bool
	// cgIdle: to start in a cgroup marked idle (cgroup_idle.go).
	cgIdle bool
	// stateSock is a spare's end of the socket that hands it a state
	// file (state_spare.go); nil once used or for a child not spare.
	stateSock *os.File

	// The host side of its seccomp listener (listen.go; nil without a
	// filter), and the forbidden call the listener named.
	lis     *listener
	trapped atomic.Pointer[SyscallError]

	procCallbacks // the callbacks' entries in this child (frame.go)
}

// hostChan is the host's side of a channel.
type hostChan struct {
	p        *proc
	idx      int // its index in proc.chans
	h        *chanHdr
	data     []byte
	seen     uint32 // the last toHost value handled
	hostArea int
	// priv is this channel's part of a private mapping (not shared with
	// the child): the copies of a host call's strings and stack
	// arguments, and its result in memory, that the host's function
	// reads and writes (call.go hostCall). sret* say where that result
	// is to be copied back.
	priv                      []byte
	sretFrom, sretTo, sretLen int
	panicVal                  any    // the value of a host function's panic in this call
	panicName                 string // and the function's name
	// hostTid is the thread running a host function nested in a call
	// on this channel (locked to it meanwhile), else 0: InHostCall.
	hostTid atomic.Int32
}

// Name implements wire.Remote.
func (r *remote) Name() string { return r.name }

// CallInts implements wire.Remote: integers in place, no buffer.
func (r *remote) CallInts(handle uint32, ints [6]uint64, n int) (pcall.Result, error) {
	p := r.cur.Load()
	c, err := p.acquire(nil)
	if err != nil {
		return pcall.Result{}, err
	}
	h := c.h
	h.kind, h.handle, h.nints = opCallInts, handle, uint32(n)
	h.ints = ints
	var res pcall.Result
	if err = c.roundTrip(nil); err == nil {
		if err = c.replyErr(); err == nil {
			res.Int = h.resInt
		}
	}
	p.release(c)
	return res, err
}

// Call implements wire.Remote.
func (r *remote) Call(ctx context.Context, handle uint32, a pcall.Args, bufs []wire.Buffer) (pcall.Result, error) {
	p := r.cur.Load()
	c, err := p.acquire(ctx)
	if err != nil {
		return pcall.Result{}, err
	}
	defer p.release(c)
	h := c.h
	h.kind, h.handle, h.nbufs = opCall, handle, uint32(len(bufs))
	h.ints, h.floats = a.Int, a.Float
	off := 0
	var offs [len(h.bufs)]int // the host's own: never read back from the channel
	for i, b := range bufs {
		n := len(b.Data)
		if off+n > c.hostArea {
			return pcall.Result{}, fmt.Errorf("isolate: %d bytes of buffers, the channel holds %d: %w", off+n, c.hostArea, ErrBufferTooLarge)
		}
		copy(c.data[off:], b.Data)
		h.bufs[i] = bufDesc{slot: uint32(b.Slot), off: uint32(off), n: uint32(n)}
		offs[i] = off
		off = (off + n + 15) &^ 15
	}
	var res pcall.Result
	if err = c.roundTrip(ctx); err == nil {
		if err = c.replyErr(); err == nil {
			res.Int, res.Float = h.resInt, h.resF
			for i, b := range bufs {
				if b.Out {
					copy(b.Data, c.data[offs[i]:])
				}
			}
		}
	}
	return res, err
}

// Lookup implements wire.Remote.
func (r *remote) Lookup(name, version string) (wire.RemoteSymbol, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := symKey{name, version}
	for i, k := range r.syms {
		if k == key {
			return r.info[i], nil
		}
	}
	p := r.cur.Load()
	c, err := p.acquire(nil)
	if err != nil {
		return wire.RemoteSymbol{}, err
	}
	defer p.release(c)
	h := c.h
	h.kind = opLookup
	h.inLen = uint32(putStrings(c.data[:c.hostArea], name, version))
	if err := c.roundTrip(nil); err != nil {
		return wire.RemoteSymbol{}, err
	}
	if atomic.LoadUint32(&h.status) != statusOK {
		return wire.RemoteSymbol{}, c.replyErr()
	}
	handle := atomic.LoadUint32(&h.handle)
	if int(handle) != len(r.syms) {
		p.kill("protocol")
		return wire.RemoteSymbol{}, fmt.Errorf("isolate: lookup %q: the child gave handle %d, want %d: %w", name, handle, len(r.syms), ErrProtocol)
	}
	ver, _, _ := readStrings2(c.data, int(atomic.LoadUint32(&h.msgLen)))
	s := wire.RemoteSymbol{Handle: handle, Name: name, Addr: h.symAddr, Size: h.symSize, Func: h.symFunc != 0, Version: ver}
	r.syms = append(r.syms, key)
	r.info = append(r.info, s)
	return s, nil
}

// Restart implements wire.Remote.
func (r *remote) Restart(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	old.kill("restart")
	<-old.done
	p, rep, err := r.iso.spawn(ctx, r)
	if err != nil {
		// Leave the dead proc in place, still mapped: calls fail with
		// its error.
		return err
	}
	// The same symbols, by handle, at the new process's addresses
	// (spawn checked that the child found each one).
	for i, s := range rep.Syms {
		r.info[i].Addr, r.info[i].Size = s.Addr, s.Size
	}
	r.cur.Store(p)
	old.waitUpcall()
	old.unmap() // no call in flight: the loader holds its lock
	return nil
}

// AutoRestart implements wire.Remote.
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

// Close implements wire.Remote: a graceful close asks the child to run
// the destructors and exit (and kills it after a second); otherwise, or
// then, the child is killed. The child is reaped before Close returns.
func (r *remote) Close(ctx context.Context, graceful bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.cur.Load()
	var err error
	if graceful && !p.dead.Load() {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		if c, aerr := p.acquire(ctx); aerr == nil {
			c.h.kind = opClose
			if rerr := c.roundTrip(ctx); rerr == nil {
				err = c.replyErr()
			}
		}
		cancel()
	}
	p.kill("close")
	<-p.done
	p.out.wait() // its last output reaches the writers (bounded)
	p.waitUpcall()
	p.unmap()
	r.forgetCallbacks()
	return err
}

// Kill is wire.Remote's: the current child is killed at once.
func (r *remote) Kill(reason string) { r.cur.Load().kill(reason) }

// Pid returns the process id of an isolated plugin's current child (0
// for a plugin in the host's address space).
func Pid(p *loader.Plugin) int {
	if rr, ok := wire.RemoteOf(p).(*remote); ok {
		return rr.cur.Load().pid
	}
	return 0
}

var _ wire.Isolation = (*Isolator)(nil)
