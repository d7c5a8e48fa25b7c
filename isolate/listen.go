//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/childrt"
)

// The child's seccomp listener. The load filter sends every call it
// forbids to a listener (SECCOMP_RET_USER_NOTIF) instead of trapping:
// the calling thread waits in the kernel whatever signals it blocks, so
// a call made with SIGSYS blocked (glibc's system() and posix_spawn
// block every signal around their clone) is named like any other. The
// child installs the filter with a listener, offers its descriptor
// through the shared header, and closes its own copy once the host has
// taken one (pidfd_getfd), before any plugin code runs: a plugin holding
// it could answer its own calls. The host answers each forbidden call
// with an error, records the call and kills the child: the same fate
// and error as a trapped call. The calls allowed for the load alone go
// to the listener too, and are let through only until the child enters
// its run phase (phase.go): the one case of
// SECCOMP_USER_NOTIF_FLAG_CONTINUE.

// listenWait bounds the child's wait for the host to take its listener
// (the host's goroutine answers in microseconds; this is for a host that
// cannot run at all).
const listenWait = 5 * time.Second

// The handshake's states (header.listen), childrt's.
const (
	listenNone     = childrt.ListenNone
	listenOffered  = childrt.ListenOffered
	listenTaken    = childrt.ListenTaken
	listenRefused  = childrt.ListenRefused
	listenNoKernel = childrt.ListenNoKernel
	listenGone     = childrt.ListenGone
)

// offerListener installs the load filter (the first) with a listener and
// hands the listener to the host (childrt.OfferListener); it says
// whether the host holds it. Where the kernel refuses a listener, or the
// host said beforehand that it takes none, the child installs the
// degraded filter instead, and the run filter at the switch: the calls
// the listener would have named trap as before. A listener installed
// and not taken leaves no way to degrade (the filter sends seccomp to
// the listener, and with none every such call fails): the child fails,
// and the host, which knows why, starts another that degrades.
//
// With the listener offered, it returns taken: it waits for the host to
// take the listener and closes the child's copy, and must be called
// before any plugin code. Until then the child goes on (its load), and
// the host takes the listener meanwhile: a wait for the take would be
// one more hand-off between the processes on the start's path.
func offerListener(h *header, load []unix.SockFilter) (taken func() error, err error) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("no_new_privs: %w", err)
	}
	// The offer wakes h.state's waiter too: the host's awaitStart, which
	// tells the listener's goroutine (offered).
	await, err := childrt.OfferListener(load, &h.listen, &h.listenFD, &h.state)
	var errno unix.Errno
	switch {
	case err == nil:
		return func() error { return await(listenWait) }, nil
	case errors.As(err, &errno), errors.Is(err, childrt.ErrListenerRefused): // no filter yet
		return nil, installFilter(degrade(load), true)
	}
	return nil, err
}

// listener is the host's side of one child's listener.
type listener struct {
	done    chan struct{} // closed when run returns
	stop    chan struct{} // closed by stopListener
	offered chan struct{} // the child may have offered (see poke)
	mu      sync.Mutex
	f       *os.File // the listener, once taken
	shut    bool     // the child ended: f is closed, or must not be kept
	why     atomic.Pointer[string]
	// lost: the host could not take the listener the child installed
	// (the child then fails: see offerListener).
	lost atomic.Bool
	// taken: the host holds the listener the child installed.
	taken atomic.Bool
	// running: the child entered its run phase (phase.go); only the
	// listener's goroutine sets it, before it answers the marker.
	running atomic.Bool
}

// newListener prepares p's listener before its child starts: where the
// host cannot take one, it says so in the header, and the child
// installs the degraded filter from the start.
func (p *proc) newListener() {
	p.lis = &listener{done: make(chan struct{}), stop: make(chan struct{}), offered: make(chan struct{}, 1)}
	if why := listenUnavailable(); why != "" {
		p.lis.why.Store(&why)
		p.hdr.listen = listenRefused
	}
}

// listenProbe is whether this host can take a listener at all (pidfd_open
// and pidfd_getfd, tried on itself, once), and listenLost the reason the
// host could not take the listener of a child (then the next children
// degrade at once).
var (
	listenProbe = sync.OnceValue(func() string {
		fd, err := unix.PidfdOpen(os.Getpid(), 0)
		if err != nil {
			return fmt.Sprintf("pidfd_open: %v", err)
		}
		defer unix.Close(fd)
		dup, err := unix.PidfdGetfd(fd, fd, 0)
		if err != nil {
			return fmt.Sprintf("pidfd_getfd: %v", err)
		}
		unix.Close(dup)
		return ""
	})
	listenLost atomic.Pointer[string]
)

// listenUnavailable says why the host takes no listener ("": it does).
func listenUnavailable() string {
	if refuseListener != "" {
		return "pidfd_open: " + refuseListener
	}
	if w := listenLost.Load(); w != nil {
		return *w
	}
	return listenProbe()
}

// startListener starts the goroutine that takes the listener p's child
// offers and answers its calls until the child ends (stopListener);
// newListener has prepared it.
func (p *proc) startListener() {
	if p.lis.why.Load() != nil {
		close(p.lis.done) // refused before the child started
		return
	}
	pidfd, err := unix.PidfdOpen(p.pid, 0)
	if err != nil {
		p.lis.refuse(p.hdr, fmt.Sprintf("pidfd_open: %v", err))
		close(p.lis.done)
		return
	}
	go p.lis.run(p, pidfd)
}

// refuseListener, when set (by this package's tests only), makes the
// host refuse every child's listener with this reason, as a host without
// pidfds would.
var refuseListener string

// failTake, when set (by this package's tests only), makes the host fail
// to take every listener a child installed, with this reason.
var failTake string

// notifHook, when set (by this package's tests only), sees each call a
// child's filter sends to the host's listener: its name and, for an
// open, the path.
var notifHook func(name, path string)

// stopListener ends the listener's goroutine (the child has ended) and
// waits for it, so that it no longer reads the shared header.
func (p *proc) stopListener() {
	if p.lis == nil {
		return
	}
	atomic.StoreUint32(&p.hdr.listen, listenGone)
	close(p.lis.stop)
	p.lis.mu.Lock()
	p.lis.shut = true
	if p.lis.f != nil {
		p.lis.f.Close()
	}
	p.lis.mu.Unlock()
	<-p.lis.done
}

// noListener says why p's child has no listener ("" when it has one or
// has no filter).
func (p *proc) noListener() string {
	if p.lis == nil {
		return ""
	}
	if w := p.lis.why.Load(); w != nil {
		return *w
	}
	return ""
}

// refuse tells the child that the host cannot take its listener.
func (l *listener) refuse(h *header, why string) {
	l.why.Store(&why)
	if atomic.CompareAndSwapUint32(&h.listen, listenNone, listenRefused) ||
		atomic.CompareAndSwapUint32(&h.listen, listenOffered, listenRefused) {
		futexWake(&h.listen)
	}
}

// run takes the listener, then receives and answers the child's calls
// until stopListener closes it or the child has no task left.
func (l *listener) run(p *proc, pidfd int) {
	defer close(l.done)
	f, why := l.take(p, pidfd)
	unix.Close(pidfd)
	if f == nil {
		offered := atomic.LoadUint32(&p.hdr.listen) == listenOffered && !p.exited()
		if offered {
			// The child installed it: it cannot degrade now, and
			// fails; the next children degrade from the start.
			l.lost.Store(true)
			lost := why
			listenLost.Store(&lost)
		}
		l.refuse(p.hdr, why)
		if offered {
			// Its load goes on after the offer: a call it sent to
			// the listener would wait for an answer until the
			// start's deadline.
			p.kill("seccomp listener not taken: " + why)
		}
		p.iso.log.Debug("no seccomp listener: a forbidden call made with SIGSYS blocked will not be named", "pid", p.pid, "error", why)
		return
	}
	l.mu.Lock()
	if l.shut {
		l.mu.Unlock()
		f.Close()
		return
	}
	l.f = f
	l.mu.Unlock()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	for {
		var n seccompNotif
		var rerr error
		err := rc.Read(func(fd uintptr) bool {
			for {
				pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				k, _ := unix.Poll(pfd, 0)
				switch ev := pfd[0].Revents; {
				case k <= 0:
					return false // wait in the runtime's poller
				case ev&unix.POLLIN != 0:
					// A notification is pending, so the receive does
					// not block (it may find the call gone: ENOENT).
					rerr = notifRecv(fd, &n)
					return true
				case ev&unix.POLLHUP != 0:
					rerr = unix.EPIPE // the child has no task left
					return true
				}
				// POLLERR: the kernel's poll was interrupted (by the
				// runtime's preemption signal) before it looked.
			}
		})
		switch {
		case err != nil || rerr == unix.EPIPE:
			return // closed by stopListener, or the child is gone
		case rerr == nil:
			rc.Control(func(fd uintptr) { p.answer(fd, &n) })
		case rerr != unix.ENOENT && rerr != unix.EINTR:
			// Its calls would wait for an answer forever: the boundary
			// is broken, end the child.
			p.kill(fmt.Sprintf("seccomp listener: %v", rerr))
			return
		}
	}
}

// grabListener copies descriptor target of the process of pidfd, if it
// is a seccomp listener; else it returns -1 and why not.
func grabListener(pidfd, target int) (int, string) {
	fd, err := unix.PidfdGetfd(pidfd, target, 0)
	if err != nil {
		return -1, fmt.Sprintf("pidfd_getfd: %v (the host needs ptrace access to its child)", err)
	}
	if link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err != nil || link != "anon_inode:seccomp notify" {
		unix.Close(fd)
		return -1, fmt.Sprintf("the child's descriptor %d is %q, not a seccomp listener", target, link)
	}
	return fd, ""
}

// poke tells the listener's goroutine that the child's offer may be in:
// the child's offer wakes the host's wait for the start (awaitStart),
// which pokes.
func (l *listener) poke() {
	select {
	case l.offered <- struct{}{}:
	default:
	}
}

// awaitOffer waits until the child has offered its listener (or said it
// has none, or ended) and returns the state. It looks when poked (the
// start's own wait is woken by the offer), and on a timer, from 50 µs up
// to 500 µs apart, for the offer no wait sees (a spare's, made before its
// load): not in a futex wait of its own, since a goroutine blocked in a
// system call holds an OS thread, and the runtime keeps every thread it
// made, so children starting together would leave the host one thread
// each.
func (l *listener) awaitOffer(h *header) uint32 {
	d := 50 * time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		if st := atomic.LoadUint32(&h.listen); st != listenNone {
			return st
		}
		select {
		case <-l.stop:
			return listenGone
		case <-l.offered:
			continue
		case <-t.C:
		}
		d = min(2*d, 500*time.Microsecond)
		t.Reset(d)
	}
}

// take waits for the child's offer and takes a copy of the listener.
// The descriptor number is the child's word: the copy is used only if it
// is a seccomp listener.
func (l *listener) take(p *proc, pidfd int) (*os.File, string) {
	h := p.hdr
	switch st := l.awaitOffer(h); st {
	case listenOffered:
	case listenNoKernel:
		return nil, fmt.Sprintf("the kernel refuses a listener with TSYNC (%v; Linux 5.7 has SECCOMP_FILTER_FLAG_TSYNC_ESRCH)", unix.Errno(atomic.LoadInt32(&h.listenFD)))
	case listenGone:
		return nil, "the child ended before it offered one"
	default:
		return nil, fmt.Sprintf("listener state %d", st)
	}
	target := int(atomic.LoadInt32(&h.listenFD))
	if failTake != "" {
		return nil, failTake
	}
	fd, why := grabListener(pidfd, target)
	if fd < 0 && p.nsAsked&unix.CLONE_NEWPID != 0 {
		// In a PID namespace the plugin's process is a child of the
		// host's child (pidns.c): the one whose descriptor is a listener.
		for _, k := range childrenOf(p.pid) {
			if kfd, err := unix.PidfdOpen(k, 0); err == nil {
				fd, why = grabListener(kfd, target)
				unix.Close(kfd)
			}
			if fd >= 0 {
				break
			}
		}
	}
	if fd < 0 {
		return nil, why
	}
	l.taken.Store(true) // before the child can go on: see spawn's check of the run phase
	if !atomic.CompareAndSwapUint32(&h.listen, listenOffered, listenTaken) {
		l.taken.Store(false)
		unix.Close(fd)
		return nil, "the child stopped waiting for the host"
	}
	futexWake(&h.listen)
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Sprintf("listener: %v", err)
	}
	return os.NewFile(uintptr(fd), "seccomp-listener"), ""
}

// answer lets a phase call through in the load phase, and takes the
// marker (phase.go); any other call it refuses, names, and kills the
// child for; but a clone3 that asks for a thread is answered ENOSYS
// alone (glibc's pthread_create then calls clone, whose flags the filter
// reads). What it reads of the child's memory only makes the message
// and that choice: the call is refused whatever it says.
func (p *proc) answer(fd uintptr, n *seccompNotif) {
	class := p.iso.cls.classify(p.iso.opts.Policy, n)
	if notifHook != nil {
		notifHook(notifName(n))
	}
	switch {
	case class == uint32(notifyPhase) && !p.lis.running.Load():
		notifContinue(fd, n.ID)
		return
	case class == uint32(notifyMarker) && !p.lis.running.Load():
		p.lis.running.Store(true) // before the answer: see phase.go
		notifReturn(fd, n.ID, phaseAck)
		return
	}
	e := &SyscallError{Plugin: p.pluginName(), Pid: p.pid, PC: uintptr(n.Data.InstructionPointer)}
	e.Arch, e.Nr, e.Name = nameSyscall(n.Data.Arch, uint32(n.Data.Nr))
	errno := unix.EPERM
	switch class {
	case uint32(notifyPhase):
		e.Detail = "allowed only while the plugin loads"
	case uint32(notifyMarker):
		e.Detail = "runplug's run-phase marker, made again"
	}
	if e.Arch == sysArchName {
		switch e.Name {
		case "clone":
			e.Detail = "flags " + cloneFlagNames(n.Data.Args[0], false)
		case "clone3":
			errno = unix.ENOSYS
			flags, err := readWord(int(n.Pid), n.Data.Args[0])
			if err != nil {
				e.Detail = fmt.Sprintf("clone_args at %#x unreadable: %v", n.Data.Args[0], err)
				break
			}
			if notifValid(fd, n.ID) != nil {
				return // the call is over (its thread was killed)
			}
			if flags&unix.CLONE_THREAD != 0 && flags&cloneNamespaces == 0 {
				notifSend(fd, n.ID, errno)
				return
			}
			e.Detail = "flags " + cloneFlagNames(flags, true)
		case "execve", "execveat", "open", "openat", "openat2", "creat":
			arg := n.Data.Args[0]
			if e.Name == "execveat" || e.Name == "openat" || e.Name == "openat2" {
				arg = n.Data.Args[1]
			}
			if path, err := readString(int(n.Pid), arg, 256); err == nil {
				e.Detail = joinDetail(fmt.Sprintf("path %q", path), e.Detail)
			}
		}
	}
	p.trapped.CompareAndSwap(nil, e)
	p.kill("forbidden system call " + e.Name)
	notifSend(fd, n.ID, errno) // the thread may still run until the kill lands
}

// notifName is the name of a notified call and, for an open, its path
// as the child's memory holds it ("" if unreadable).
func notifName(n *seccompNotif) (name, path string) {
	_, _, name = nameSyscall(n.Data.Arch, uint32(n.Data.Nr))
	switch name {
	case "open", "creat":
		path, _ = readString(int(n.Pid), n.Data.Args[0], 256)
	case "openat", "openat2":
		path, _ = readString(int(n.Pid), n.Data.Args[1], 256)
	}
	return name, path
}

// joinDetail joins the parts of a Detail that are not empty.
func joinDetail(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + "; " + b
}

// cloneFlagNames spells clone flags out: clone's exit signal (its low
// byte; clone3 has it in a field of its own) by name, unknown bits in
// hex.
func cloneFlagNames(f uint64, clone3 bool) string {
	var sig uint64
	if !clone3 {
		sig, f = f&0xff, f&^0xff
	}
	var parts []string
	for _, c := range cloneFlagTable {
		if f&c.bit != 0 {
			parts = append(parts, c.name)
			f &^= c.bit
		}
	}
	if sig != 0 {
		name := unix.SignalName(unix.Signal(sig))
		if name == "" {
			name = fmt.Sprintf("signal %d", sig)
		}
		parts = append(parts, name)
	}
	if f != 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%#x", f))
	}
	return strings.Join(parts, "|")
}

var cloneFlagTable = []struct {
	bit  uint64
	name string
}{
	{unix.CLONE_VM, "CLONE_VM"}, {unix.CLONE_FS, "CLONE_FS"}, {unix.CLONE_FILES, "CLONE_FILES"},
	{unix.CLONE_SIGHAND, "CLONE_SIGHAND"}, {unix.CLONE_PIDFD, "CLONE_PIDFD"}, {unix.CLONE_PTRACE, "CLONE_PTRACE"},
	{unix.CLONE_VFORK, "CLONE_VFORK"}, {unix.CLONE_PARENT, "CLONE_PARENT"}, {unix.CLONE_THREAD, "CLONE_THREAD"},
	{unix.CLONE_NEWNS, "CLONE_NEWNS"}, {unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"}, {unix.CLONE_SETTLS, "CLONE_SETTLS"},
	{unix.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"}, {unix.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"},
	{unix.CLONE_UNTRACED, "CLONE_UNTRACED"}, {unix.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {unix.CLONE_NEWUTS, "CLONE_NEWUTS"}, {unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER"}, {unix.CLONE_NEWPID, "CLONE_NEWPID"}, {unix.CLONE_NEWNET, "CLONE_NEWNET"},
	{unix.CLONE_IO, "CLONE_IO"}, {unix.CLONE_CLEAR_SIGHAND, "CLONE_CLEAR_SIGHAND"}, {unix.CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"},
	{unix.CLONE_NEWTIME, "CLONE_NEWTIME"},
}

// pluginName is the plugin's name once the child loaded it, else
// "(spare)".
func (p *proc) pluginName() string {
	if n := p.name.Load(); n != nil {
		return *n
	}
	return "(spare)"
}

// unnamedWhy says why a call trapped with SIGSYS blocked was not named
// by the listener: there was none. With one, nothing the child's filter
// forbids traps (the listener names every such call, the run phase's
// too), so a SIGSYS death is a signal the plugin raised itself.
func (p *proc) unnamedWhy() string {
	if why := p.noListener(); why != "" {
		return "no seccomp listener: " + why
	}
	return "no forbidden call: the child's filter traps none with a listener, so the plugin raised SIGSYS itself"
}
