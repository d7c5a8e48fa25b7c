//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/childrt"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/rawcall"
	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/loader"
)

// The child: any binary that imports isolate becomes an isolated plugin's
// process when started with envChild set. init runs before main (and
// before the init of every package that imports isolate), so nothing of
// the host program runs in the child.
func init() {
	if v := os.Getenv(envChild); v != "" {
		fd, err := strconv.Atoi(v)
		if err != nil {
			os.Exit(120)
		}
		os.Exit(childMain(fd, os.Getenv(envSpare) != ""))
	}
}

// childHook, when set, is called by the child at each message it sends
// the host (step says which), with the channel (nil for the load reply).
// Only this package's tests set it (from a variable's initializer, which
// runs before init), to make the child hostile: nothing else may.
var childHook func(step hookStep, c *child, ch *childChan)

// skipRunPhase, when set, makes a child with a listener load its plugin
// without its run-phase marker. Only this package's tests set it, as
// childHook: the host must refuse such a child (spawn.go).
var skipRunPhase bool

// hookStep is where the child calls childHook.
type hookStep int

const (
	hookLoadReply hookStep = iota // the load reply is written, its state not yet
	hookReply                     // a reply is in the channel, not yet posted
	hookHostCall                  // a host call is in the channel, not yet posted
)

// child is the child's state.
type child struct {
	mem []byte
	l   *loader.Loader
	hdr *header
	req request
	p   *loader.Plugin
	// The functions by handle: an immutable table, replaced whole by
	// each lookup (under lookMu) and read by every call without a lock.
	// The host serialises its lookups, but on any channel: the lock
	// makes their order one this process (and its race detector) sees.
	funcs  atomic.Pointer[[]*loader.Func]
	lookMu sync.Mutex
	syms   []symKey // by handle (the host's table, mirrored); lookMu
	// exports is the plugin's Symbols, listed at the first opSymbols
	// (under lookMu).
	exports []loader.Symbol
	// chans and their owners' thread ids, for host calls.
	chans []*childChan
	tids  []atomic.Int32
	// loaded is closed once start has set up the state above: the
	// serving threads wait for it before their first message (the host
	// sends none before the reply, but its order, through the shared
	// memory, is invisible to the race detector).
	loaded chan struct{}
	cb     childCallbacks // callbacks and the upcall channel (child_frame.go)
	// listening: the host holds the seccomp listener, and the run phase
	// begins with the marker rather than a second filter (phase.go).
	listening bool
	// reserved waits until the runtime's idle threads are made
	// (reserve.go), which confine needs before the limits; serving
	// counts the serving goroutines that have yet to lock their thread.
	reserved func()
	serving  sync.WaitGroup
}

type childChan struct {
	c    *child
	h    *chanHdr
	data []byte
	base uint64 // data's address in this process
	seen uint32 // last toChild value handled
	// hostArea is where a host call's strings go: the end of data, so
	// that the call's own buffers stay intact.
	hostArea int
	// state is chanIdle, chanInCall or chanNested (child_frame.go): who
	// may send a host call on the channel.
	state atomic.Uint32
	// kind is the request being answered (op*), for childHook.
	kind uint32
}

// childMain runs the child; its result is the exit status.
func childMain(fd int, spare bool) int {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size < hdrSize {
		return 121
	}
	mem, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return 122
	}
	unix.Close(fd)
	c := &child{mem: mem, hdr: hdrAt(mem), loaded: make(chan struct{})}
	h := c.hdr
	if h.magic != magic {
		return 123
	}
	h.childBase = addrOf(mem)
	if err := c.channels(); err != nil {
		return 124
	}
	// The serving threads of the pool start now (a spare has them ready
	// before its request); the host sends nothing before the state is
	// stReady.
	active := c.serveUpTo(0, atomic.LoadUint32(&h.active))
	c.reserved = reserveThreads(&c.serving) // meanwhile; confine waits for it
	// A spare child confines itself and waits here, its runtime started,
	// for its request (so does a child that got here before its request).
	var run []unix.SockFilter
	if spare {
		var err error
		if run, err = c.confineSpare(); err != nil {
			return 125
		}
	}
	if atomic.LoadUint32(&h.goWord) == 0 {
		atomic.StoreUint32(&h.state, stWaiting)
		futexWake(&h.state)
		for atomic.LoadUint32(&h.goWord) == 0 {
			futexWait(&h.goWord, 0)
		}
		atomic.StoreUint32(&h.state, stStarting)
	}
	if uint64(h.cfgOff)+uint64(h.cfgLen) > uint64(len(mem)) {
		return 123
	}
	rep := c.start(run)
	close(c.loaded)
	// What the constructor made of the namespaces the host asked for
	// (none asked: 0, nil): the host's Report.
	flags, err := childrt.EarlyNamespaces()
	rep.NSFlags = uint32(flags)
	if err != nil {
		rep.NSErr = err.Error()
	}
	ll, err := childrt.ChildConfinement()
	rep.Landlock = uint32(ll)
	if err != nil {
		rep.ConfineErr = err.Error()
	}
	if err := childrt.ProcMount(); err != nil {
		rep.ConfineErr = strings.TrimPrefix(rep.ConfineErr+"; "+err.Error(), "; ")
	}
	b := rep.marshal()
	if uint64(h.replyOff)+uint64(len(b)) > uint64(h.slotsOff) || h.slotsOff > uint32(len(mem)) {
		rep = errReply(errors.New("isolate: reply too large"))
		b = rep.marshal()
	}
	copy(mem[h.replyOff:], b)
	h.replyLen = uint32(len(b))
	if childHook != nil {
		childHook(hookLoadReply, c, nil)
	}
	if rep.Err != nil {
		atomic.StoreUint32(&h.state, stFailed)
		futexWake(&h.state)
		return 0
	}
	atomic.StoreUint32(&h.state, stReady)
	futexWake(&h.state)
	// Until the host ends the process (opClose, or a kill): serve each
	// channel the host adds for nested calls.
	for {
		futexWait(&h.active, uint32(active))
		active = c.serveUpTo(active, atomic.LoadUint32(&h.active))
	}
}

// serveUpTo starts the serving threads of channels from to n (at most
// the channels laid out) and returns the number served.
func (c *child) serveUpTo(from int, n uint32) int {
	to := min(int(n), len(c.chans))
	for i := from; i < to; i++ {
		c.serving.Add(1)
		go c.chans[i].serve(i)
	}
	return max(from, to)
}

// channels lays out the channels the host described in the header.
func (c *child) channels() error {
	h := c.hdr
	n := int(h.nslots)
	if n < 1 || n > maxSlots || h.slotSize <= slotHdr || uint64(h.slotsOff)+uint64(n)*uint64(h.slotSize) > uint64(len(c.mem)) {
		return errors.New("isolate: bad channel layout")
	}
	c.tids = make([]atomic.Int32, n)
	for i := 0; i < n; i++ {
		off := int(h.slotsOff) + i*int(h.slotSize)
		data := c.mem[off+slotHdr : off+int(h.slotSize)]
		hostArea := len(data) - len(data)/8
		c.chans = append(c.chans, &childChan{c: c, h: chanAt(c.mem, off), data: data, base: addrOf(data), hostArea: hostArea})
	}
	return nil
}

// confineSpare confines a spare child before its request, by the policy
// the host wrote in the request area before the exec (the filters name
// the pid, so the spare assembles them itself, while it has time); it
// returns the run filter, for after the load.
func (c *child) confineSpare() ([]unix.SockFilter, error) {
	h := c.hdr
	if uint64(h.cfgOff)+uint64(h.cfgLen) > uint64(len(c.mem)) {
		return nil, errors.New("isolate: bad request area")
	}
	var pre request
	if err := pre.unmarshal(c.mem[h.cfgOff : h.cfgOff+h.cfgLen]); err != nil {
		return nil, err
	}
	load, run, err := filters(os.Getpid(), dropID(childrt.HostPid()), pre.Policy)
	if err != nil {
		return nil, err
	}
	warmSpare() // before the filter: its opens and threads need no round trip
	taken, err := confine(pre.Policy, load, h, c.reserved)
	if err != nil {
		return nil, err
	}
	if c.listening = taken != nil; c.listening {
		if err := taken(); err != nil { // a spare has time: the host takes it while it waits
			return nil, err
		}
	}
	if run == nil {
		run = []unix.SockFilter{} // NoSeccomp: confined, no filter to add
	}
	return run, nil
}

// start confines the process (unless a spare did: then run is its run
// filter), loads the plugin and looks up the symbols the host asks for.
func (c *child) start(run []unix.SockFilter) reply {
	h := c.hdr
	if err := c.req.unmarshal(c.mem[h.cfgOff : h.cfgOff+h.cfgLen]); err != nil {
		return errReply(fmt.Errorf("isolate: bad request: %w", err))
	}
	pol := c.req.Policy
	var rep reply
	if run != nil { // a spare: descriptor 4 is the socket that brings a state file
		if err := takeStateFile(c.req.State != nil); err != nil {
			return errReply(fmt.Errorf("isolate: %w", err))
		}
	}
	var taken func() error // the listener offered and not yet waited for
	if run == nil {
		load := c.req.LoadFilter
		run = c.req.RunFilter
		var err error
		if asked := childrt.EarlyNamespacesAsked(); asked&unix.CLONE_NEWPID != 0 && os.Getpid() != childrt.PluginPidInNamespace && !pol.NoSeccomp {
			// The host assembled the filters for pid 2 of a PID
			// namespace this child did not get (the Report says so).
			if load, run, err = filters(os.Getpid(), dropID(childrt.HostPid()), pol); err != nil {
				return errReply(fmt.Errorf("isolate: confine: %w", err))
			}
		}
		if taken, err = confine(pol, load, h, c.reserved); err != nil {
			return errReply(fmt.Errorf("isolate: confine: %w", err))
		}
		c.listening = taken != nil
	}
	rep.Seccomp = !pol.NoSeccomp
	// The host must hold the listener before plugin code runs (tighten),
	// and before this child ends, even of a failed load: one that ended
	// first would look to the host like a listener it could not take.
	awaitTaken := func() error {
		t := taken
		taken = nil
		if t == nil {
			return nil
		}
		return t()
	}
	defer awaitTaken()

	// The rights the load needed (opens, memfd_create, root's uid)
	// end before the first plugin code: an IFUNC resolver, a
	// constructor, or (a host library, which runs neither) the first
	// call.
	tight := false
	tighten := func() error {
		if tight {
			return nil
		}
		if err := awaitTaken(); err != nil {
			return err
		}
		dropPluginFile(c.req.Path) // the loader took it, unless the load failed first
		uid, err := dropUID()      // confine_uid.go
		if err != nil {
			return err
		}
		rep.UID = uint32(uid)
		switch {
		case c.listening && skipRunPhase:
		case c.listening: // the host refuses the load's calls from now on
			if err := enterRunPhase(); err != nil {
				return err
			}
		case !pol.NoSeccomp:
			if err := installFilter(run, false); err != nil {
				return err
			}
		}
		tight = true
		return nil
	}
	takePluginFile(c.req.Path)
	l := loader.New(childLoaderOptions(c.req.Loader, tighten))
	c.l = l
	for i, hf := range c.req.Host {
		if _, err := l.RegisterHostFunc(hf.Name, c.forward(i, hf)); err != nil {
			return errReply(err)
		}
	}
	var err error
	if st := c.req.State; st != nil {
		// The state file the host handed over (loader's state_handed.go).
		var p any
		p, err = wire.LoadHandedState(context.Background(), l, c.req.Path, c.req.Name, c.req.Image, wire.RemoteState{Name: st.Name, Slot: st.Slot, From: st.From})
		c.p, _ = p.(*loader.Plugin)
	} else if c.req.Path == "" { // LoadBytes (Load sends an absolute path); an empty image decodes as nil
		c.p, err = l.LoadBytes(context.Background(), c.req.Name, c.req.Image)
	} else {
		c.p, err = l.Load(context.Background(), c.req.Path)
	}
	dropPluginFile(c.req.Path)
	if err != nil {
		return errReply(err)
	}
	rep.Name = c.p.Name()
	for _, k := range c.req.Syms {
		s, err := c.lookup(k)
		if err != nil {
			return errReply(fmt.Errorf("isolate: look up %q again: %w", k.Name, err))
		}
		rep.Syms = append(rep.Syms, s)
	}
	if err := tighten(); err != nil {
		return errReply(fmt.Errorf("isolate: confine: %w", err))
	}
	return rep
}

// takePluginFile hands the plugin's file, when the host opened it for
// this child (envPluginFile: the descriptor wire.PluginFD; a spare never
// has one), to the child's loader for its open of path.
func takePluginFile(path string) {
	if path != "" && os.Getenv(envPluginFile) != "" {
		wire.HandFile(path, wire.PluginFD)
	}
}

// dropPluginFile closes the plugin's file if the loader did not take it.
func dropPluginFile(path string) {
	if fd, ok := wire.TakeFile(path); ok {
		unix.Close(fd)
	}
}

// errReply is the reply of a failed load: err, typed (errwire.go).
func errReply(err error) reply { return reply{Err: encodeError(err, maxLoadError)} }

// maxLoadError bounds a load's encoded error: far more than any of
// runplug's, and a small part of the reply area.
const maxLoadError = 16 << 10

// confine waits for the runtime's idle threads (reserved: reserve.go),
// applies the resource limits (limits.go), the SIGSYS handler
// and the load filter, with its listener offered to the host (listen.go);
// with a listener, taken waits until the host holds it (offerListener).
// (The process group, namespaces, the parent-death signal, descriptors,
// capabilities and Landlock are the host's and the constructors' doing,
// at spawn, and so are the filters.)
func confine(pol Policy, load []unix.SockFilter, h *header, reserved func()) (taken func() error, err error) {
	reserved()
	if err := applyLimits(pol); err != nil {
		return nil, err
	}
	if pol.NoSeccomp {
		return nil, unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if err := installSigsys(&h.sys); err != nil {
		return nil, fmt.Errorf("SIGSYS handler: %w", err)
	}
	return offerListener(h, load)
}

// lookup finds k and adds it to the table (the host numbers handles the
// same way).
func (c *child) lookup(k symKey) (symReply, error) {
	if k.Name == "" {
		return c.lookupAddr(k) // funcat.go
	}
	s, err := c.p.LookupVersion(k.Name, k.Version)
	if err != nil {
		return symReply{}, err
	}

	var f *loader.Func
	if s.Func {
		if f, err = c.p.Func(k.Name); err != nil {
			return symReply{}, err
		}
		if k.Version != "" && f.Addr() != s.Addr {
			f = nil // a versioned function is reached by address below
		}
	}
	return symReply{Addr: uint64(s.Addr), Size: s.Size, Func: s.Func, Version: s.Version, handle: c.addFunc(k, f)}, nil
}

// addFunc adds f (nil: not callable by handle) to the table as k and
// returns its handle.
func (c *child) addFunc(k symKey, f *loader.Func) uint32 {
	c.lookMu.Lock()
	defer c.lookMu.Unlock()
	var t []*loader.Func
	if old := c.funcs.Load(); old != nil {
		t = *old
	}
	t = append(t[:len(t):len(t)], f) // a new table: calls may be reading the old one
	c.funcs.Store(&t)
	c.syms = append(c.syms, k)
	return uint32(len(t) - 1)
}

// childLoaderOptions are the options of the child's Loader: those that
// crossed from the host's (wire.ChildOptions), and the child's own for
// the host-only ones (wire.HostOnly says why each stays).
func childLoaderOptions(lo wire.ChildOptions, beforeCode func() error) loader.Options {
	var o loader.Options
	lo.Apply(&o)
	// TombstoneBudget 1: the child loads its plugin once and exits when
	// it is closed, so a closed image is never reused, and the loader
	// keeps no descriptor of the file for it (the child holds none).
	o.TombstoneBudget = 1
	o.KeepAfterFault = true // the host decides about quarantine
	o.BeforeCode = beforeCode
	return o
}

// fn returns the function of handle (nil for none).
func (c *child) fn(handle uint32) *loader.Func {
	t := c.funcs.Load()
	if t == nil || int(handle) >= len(*t) {
		return nil
	}
	return (*t)[handle]
}

// serve answers the host's messages on channel i, on a thread of its own
// (the one host calls are recognised by).
func (ch *childChan) serve(i int) {
	runtime.LockOSThread()
	ch.c.tids[i].Store(int32(unix.Gettid()))
	ch.c.serving.Done()
	h := ch.h
	spin := time.Duration(0) // nothing to expect before the first request
	loaded := false
	for {
		t0 := time.Now()
		v, _ := waitChange(&h.toChild, &h.childWaiting, ch.seen, nil, spin)
		// Spin for the next request only when this one came within a
		// spin's time: a caller in a loop finds the thread awake, while
		// an occasional caller costs the child no CPU.
		if time.Since(t0) < waitSpin {
			spin = waitSpin
		} else {
			spin = 0
		}
		ch.seen = v
		if !loaded {
			<-ch.c.loaded
			loaded = true
		}
		ch.kind = h.kind
		upcall := ch.handle()
		h.kind = opResult
		if childHook != nil {
			childHook(hookReply, ch.c, ch)
		}
		post(&h.toHost, &h.hostWaiting)
		if upcall {
			ch.becomeUpcall(i) // child_frame.go
			return
		}
	}
}

// handle answers one message. It returns true for opUpcall: the channel
// is no longer served after the reply.
func (ch *childChan) handle() (upcall bool) {
	h := ch.h
	c := ch.c
	kind := h.kind
	h.status, h.code, h.msgLen = statusOK, 0, 0
	if len(c.req.Host) > 0 {
		c.startRelay() // child_frame.go: host functions may be called from the plugin's threads
	}
	switch kind {
	case opCall, opCallInts:
		f := c.fn(h.handle)
		if f == nil {
			ch.fail(fmt.Errorf("isolate: no function with handle %d: %w", h.handle, loader.ErrSymbolNotFound))
			return
		}
		var r pcall.Result
		var err error
		if kind == opCallInts {
			n := min(int(h.nints), 6)
			var ints [6]uint64
			copy(ints[:], h.ints[:n])
			var v uint64
			open := ch.enter() // others may borrow the channel meanwhile (child_frame.go)
			v, err = f.Call(context.Background(), ints[:n]...)
			ch.settle(open)
			r.Int = v
		} else {
			var a pcall.Args
			a.Int, a.Float = h.ints, h.floats
			for _, b := range h.bufs[:min(int(h.nbufs), 6)] {
				if b.slot < 6 && uint64(b.off)+uint64(b.n) <= uint64(ch.hostArea) {
					a.Int[b.slot] = ch.base + uint64(b.off)
				}
			}
			open := ch.enter()
			r, err = rawcall.Args(f, nil, &a)
			ch.settle(open)
		}
		if err != nil {
			ch.fail(withoutPrefix(err, callPrefix(f.Name(), c.p.Name())))
			return
		}
		h.resInt, h.resF = r.Int, r.Float
	case opLookup:
		name, ver, ok := readStrings2(ch.data, int(h.inLen))
		if !ok {
			ch.fail(errors.New("isolate: bad lookup request"))
			return
		}
		s, err := c.lookup(symKey{name, ver})
		if err != nil {
			ch.fail(withoutPrefix(err, lookupPrefix(name, c.p.Name())))
			return
		}
		h.symAddr, h.symSize, h.symFunc = s.Addr, s.Size, 0
		if s.Func {
			h.symFunc = 1
		}
		h.handle = s.handle
		ch.text(s.Version)
	case opClose:
		// The Loader's Close (it runs the plugin's destructors): a
		// closed Loader unmaps the images at once, where a plugin's own
		// Close would keep one for reuse and read its file again, an
		// open the run filter forbids.
		if err := c.l.Close(context.Background()); err != nil {
			ch.fail(closeCause(oneError(err)))
		}
		pcall.FlushCStdio() // what the plugin printed reaches the host's pipe
		h.kind = opResult
		post(&h.toHost, &h.hostWaiting)
		os.Exit(0)
	case opMemRead, opMemWrite: // mem.go
		ch.memOp(kind == opMemRead)
	case opAlloc, opFree: // mem.go
		ch.allocOp(kind == opAlloc)
	case opSymbols: // mem.go
		ch.symbolsOp()
	case opCallFrame: // child_frame.go
		ch.callFrame()
	case opNewCallback:
		ch.newCallback()
	case opFreeCallback:
		ch.freeCallback()
	case opUpcall:
		return true
	default:
		ch.fail(fmt.Errorf("isolate: unknown request %d", kind))
	}
	return false
}

// fail writes err as the reply.
func (ch *childChan) fail(err error) {
	h := ch.h
	var fe *pcall.FaultError
	var hp *pcall.HostPanicError
	switch {
	case errors.As(err, &fe):
		h.status = statusFault
		h.sig, h.fcode, h.addr, h.pc = int32(fe.Signal), fe.Code, uint64(fe.Addr), uint64(fe.PC)
		ch.text(fe.Plugin, fe.Symbol, fe.Object, fe.Where)
	case errors.As(err, &hp):
		h.status = statusHostPanic
		if errors.Is(hp, pcall.ErrCallbackFreed) {
			h.code = codeCallbackFreed // child_frame.go
		}
		ch.text(hp.Func, fmt.Sprint(hp.Value))
	default:
		h.status = statusError
		h.msgLen = uint32(copy(ch.data[:ch.hostArea], encodeError(err, ch.hostArea)))
	}
}

// text writes strings at the start of the data area (each a 4-byte
// length and its bytes).
func (ch *childChan) text(ss ...string) {
	ch.h.msgLen = uint32(putStrings(ch.data[:ch.hostArea], ss...))
}

// forward returns the host function that stands in the child for host
// function i: it sends the call to the host over the channel the plugin
// call came in on (found by thread), or from a thread of the plugin's own
// over the upcall channel (child_frame.go), and waits for the result; the
// host may make nested calls meanwhile (on other channels).
func (c *child) forward(i int, hf hostFunc) wire.RawHostFunc {
	c.cb.shapesOnce.Do(func() { c.cb.shapes = make([]atomic.Pointer[frameShape], len(c.req.Host)) })
	return func(a *pcall.Args) pcall.Result {
		return c.hostFuncCall(i, hf, a) // child_frame.go
	}
}

// remotePanic is the panic value of a host function that panicked in the
// host: the host keeps the real value.
type remotePanic string

func (c *child) chanOfThread() *childChan {
	tid := int32(unix.Gettid())
	for i := range c.tids {
		if c.tids[i].Load() == tid {
			return c.chans[i]
		}
	}
	return nil
}

// oneError returns the error of a join of one (the Loader's Close joins
// its plugins'), else err.
func oneError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok && len(j.Unwrap()) == 1 {
		return j.Unwrap()[0]
	}
	return err
}

// closeCause is the error of the child's Close without the loader's
// "loader: close NAME: " context, which the host's loader adds again to
// what the child reports (one prefix per message).
func closeCause(err error) error {
	msg := err.Error()
	if u := errors.Unwrap(err); u != nil && strings.HasPrefix(msg, "loader: close ") && strings.HasSuffix(msg, ": "+u.Error()) {
		return u
	}
	return err
}
