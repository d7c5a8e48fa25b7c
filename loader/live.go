package loader

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"
)

// Hot reload (docs/STATE.md). A Live keeps a plugin loaded from a path
// under a stable handle: its Funcs (Live.Func), and the bindings made
// from them, call whichever version is current, found with one atomic
// load per call (of the Func's own pointer to the serving version's). Reload loads the file again (constructors, state
// migration, every binding's symbol), then swaps: calls that started on
// the old version finish there, and the old version is closed once they
// have drained. A reload that fails in any step leaves the old version
// serving.

// DefaultDebounce is how long a watching Live waits after the last change
// of its file before reloading, when LiveOptions.Debounce is 0: a build
// writes a file in several steps.
const DefaultDebounce = 100 * time.Millisecond

// LiveOptions configure LoadLive.
type LiveOptions struct {
	// StateFile is the state file every version maps (LoadOptions).
	// "" gives the Live an anonymous memfd that its versions share:
	// the state then survives reloads, not the process.
	StateFile string
	// Watch reloads the plugin when its file changes (inotify on its
	// directory: a write, or a new file renamed or linked over it),
	// Debounce after the last change.
	Watch bool
	// Debounce is the quiet time a watch waits for; 0 means
	// DefaultDebounce.
	Debounce time.Duration
	// ReloadTimeout bounds a reload the watcher starts; 0 means 30s.
	ReloadTimeout time.Duration
	// OnReload, when set, is called after every reload attempt (Reload
	// or the watcher), on the goroutine that made it, after the Live's
	// lock is released. It may call the Live's methods.
	OnReload func(ReloadEvent)
}

// ReloadEvent reports one reload attempt.
type ReloadEvent struct {
	Path string
	// Generation is the serving version's generation after the
	// attempt: 1 for the first load, one more for each successful
	// reload.
	Generation uint64
	// Err is nil when the new version serves; else why the reload
	// failed (wrapping ErrReload), the old version still serving.
	Err error
	// Swap is the time from the start of the attempt until the new
	// version served (or the failure); Drain the time the old version
	// then took to finish its calls and close.
	Swap, Drain time.Duration
	// Watch is true for a reload the watcher started.
	Watch bool
}

// ErrReload is wrapped by the error of a failed reload: the old version
// keeps serving.
var ErrReload = errors.New("reload failed, the previous version keeps serving")

// Live is a plugin kept live under a stable handle; see LoadLive. Its
// methods are safe for concurrent use.
type Live struct {
	l    *Loader
	path string
	opts LiveOptions
	log  hclog.Logger
	src  stateSource
	// memfd is the anonymous state the versions share (-1: a file).
	memfd int

	cur atomic.Pointer[liveVersion]
	// handing is closed when a handover (live_handover.go) ends; nil
	// when none is under way. Calls refused by the closing old version
	// wait for it, then go again.
	handing atomic.Pointer[chan struct{}]

	mu      sync.Mutex // serialises reloads, bindings and Close
	binders []liveBinding
	closed  bool
	watch   *watcher
}

// liveVersion is one loaded version.
type liveVersion struct {
	p   *Plugin
	gen uint64
	// build is a descriptor of the file p was loaded from (checked to be
	// the same file), from which a failed handover loads it again; -1
	// when there is none.
	build int
}

// liveBinding is a binding through a Live (live_bind.go): prepare makes
// it for a version, and the function it returns makes that version the
// one its calls reach.
type liveBinding interface {
	prepare(p *Plugin) (publish func(), err error)
}

// LoadLive loads the plugin at path (with LoadWith) and keeps it live:
// see Live. The plugin's state region, if any, is mapped from
// o.StateFile or from a memfd the Live's versions share. With an
// isolated Loader (Options.Isolation) each version runs in a child of
// its own: a reload starts a new child (or takes the Isolator's spare),
// which maps the same state file, and the old child is ended once its
// calls have drained. A host with CAP_SYS_NICE starts that child at idle
// CPU priority until it has loaded (at most 100 ms), so that the start
// takes the CPU time the serving version's callers leave.
func (l *Loader) LoadLive(ctx context.Context, path string, o LiveOptions) (*Live, error) {
	mustContext(ctx)
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("loader: load live %s: %w", path, err)
	}
	lv := &Live{l: l, path: abs, opts: o, log: l.log.Named("live"), memfd: -1, src: stateSource{path: o.StateFile}}
	if o.StateFile == "" {
		fd, err := newStateMemfd("runplug-state:" + filepath.Base(abs)) // live_watch_*.go
		if err != nil {
			return nil, fmt.Errorf("loader: load live %s: memfd_create: %w", path, err)
		}
		lv.memfd, lv.src.memfd = fd, fd
	}
	p, err := l.load(ctx, abs, lv.src)
	if err != nil {
		lv.closeMemfd()
		return nil, err
	}
	lv.cur.Store(&liveVersion{p: p, gen: 1, build: keepBuild(abs, p)})
	if o.Watch {
		if lv.watch, err = lv.startWatch(); err != nil {
			p.Close(context.Background())
			lv.closeMemfd()
			return nil, fmt.Errorf("loader: load live %s: %w", path, err)
		}
	}
	return lv, nil
}

// loadBehind is load for the next version of a Live, while the serving
// one takes calls: an isolated one starts in the background (its child
// takes only the CPU time the callers leave until it has loaded).
func (l *Loader) loadBehind(ctx context.Context, path string, st stateSource) (*Plugin, error) {
	if l.opts.Isolation != nil {
		return l.startRemote(ctx, path, filepath.Base(path), nil, st, true) // remote.go
	}
	return l.load(ctx, path, st)
}

func (lv *Live) closeMemfd() {
	if lv.memfd >= 0 {
		unix.Close(lv.memfd)
		lv.memfd = -1
	}
}

// Path returns the absolute path the Live loads from.
func (lv *Live) Path() string { return lv.path }

// Plugin returns the version serving now. It stays usable until a reload
// replaces it (its calls then fail with ErrClosed): call through
// bindings of the Live to always reach the current version.
func (lv *Live) Plugin() *Plugin { return lv.cur.Load().p }

// Generation returns the serving version's generation: 1 for the first
// load, one more for each successful reload.
func (lv *Live) Generation() uint64 { return lv.cur.Load().gen }

// State describes the serving version's state region (Plugin.State).
func (lv *Live) State() (StateInfo, bool) { return lv.Plugin().State() }

// SyncState syncs the serving version's state to its file
// (Plugin.SyncState).
func (lv *Live) SyncState(ctx context.Context) error { return lv.Plugin().SyncState(ctx) }

// bind adds a binding. It is made at once for the serving version (its
// error is returned) and then for every reloaded one before it serves (a
// reload whose build cannot make it fails).
func (lv *Live) bind(b liveBinding) error {
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if lv.closed {
		return fmt.Errorf("loader: bind in live %s: %w", lv.path, ErrClosed)
	}
	publish, err := b.prepare(lv.cur.Load().p)
	if err != nil {
		return err
	}
	publish()
	lv.binders = append(lv.binders, b)
	return nil
}

// Reload loads the Live's file again and, when everything succeeded
// (load, constructors, state migration, every binding), makes the new
// version serve; the old one is closed once its calls in flight have
// finished. On failure the old version keeps serving and the error
// wraps ErrReload. Either way the attempt is logged, and reported to
// LiveOptions.OnReload. Waiting for the old version's calls is bounded by
// ctx: when ctx ends first, Reload returns (the new version serves) and
// the old version is closed in the background once drained.
func (lv *Live) Reload(ctx context.Context) error {
	mustContext(ctx)
	ev, err := lv.reload(ctx, false)
	if lv.opts.OnReload != nil {
		lv.opts.OnReload(ev)
	}
	return err
}

func (lv *Live) reload(ctx context.Context, watch bool) (ReloadEvent, error) {
	start := time.Now()
	lv.mu.Lock()
	defer lv.mu.Unlock()
	ev := ReloadEvent{Path: lv.path, Watch: watch, Generation: lv.cur.Load().gen}
	fail := func(err error) (ReloadEvent, error) {
		ev.Err = fmt.Errorf("loader: reload %s: %w: %w", lv.path, ErrReload, err)
		ev.Swap = time.Since(start)
		lv.log.Warn("reload failed", "plugin", filepath.Base(lv.path), "path", lv.path, "error", err)
		return ev, ev.Err
	}
	if lv.closed {
		return fail(ErrClosed)
	}
	p, err := lv.l.loadBehind(ctx, lv.path, lv.src)
	if errors.Is(err, ErrStateBusy) && errors.Is(err, ErrMigration) && lv.cur.Load().build >= 0 {
		// Another layout, and the serving version holds the file.
		return lv.handover(ctx, ev, start, fail)
	}
	if err != nil {
		return fail(err)
	}
	publish, err := lv.prepare(p)
	if err != nil {
		p.Close(context.Background())
		return fail(err)
	}
	// The swap: every binding, then the version. A call that still
	// reaches the old version either runs before Close (below) waits for
	// it, or is refused without running and made again on the new one.
	for _, pub := range publish {
		pub()
	}
	old := lv.cur.Load()
	next := &liveVersion{p: p, gen: old.gen + 1, build: -1}
	lv.cur.Store(next)
	ev.Generation = next.gen
	ev.Swap = time.Since(start)
	// After the swap, not on its path; build is only used under lv.mu.
	next.build = keepBuild(lv.path, p)
	closeBuild(old)
	drained := make(chan error, 1)
	go func() { drained <- old.p.Close(context.Background()) }()
	select {
	case err = <-drained:
	case <-ctx.Done():
		lv.log.Warn("previous version still draining", "plugin", p.Name(), "path", lv.path, "error", ctx.Err())
	}
	ev.Drain = time.Since(start) - ev.Swap
	if err != nil {
		lv.log.Warn("closing the previous version failed", "plugin", p.Name(), "path", lv.path, "error", err)
	}
	lv.log.Info("reloaded plugin", "plugin", p.Name(), "path", lv.path, "generation", ev.Generation, "swap", ev.Swap)
	return ev, nil
}

// Close stops the watcher and closes the serving version (waiting for its
// calls in flight); later calls through the Live's bindings fail with
// ErrClosed. It is safe to call twice. ctx bounds the destructors, as
// for Plugin.Close; a nil ctx panics.
func (lv *Live) Close(ctx context.Context) error {
	mustContext(ctx)
	lv.mu.Lock()
	if lv.closed {
		lv.mu.Unlock()
		return nil
	}
	lv.closed = true
	w := lv.watch
	lv.mu.Unlock()
	if w != nil {
		w.stop()
	}
	v := lv.cur.Load()
	err := v.p.Close(ctx)
	closeBuild(v)
	lv.closeMemfd()
	return err
}

// prepare makes every binding for p; the functions it returns publish
// them.
func (lv *Live) prepare(p *Plugin) ([]func(), error) {
	publish := make([]func(), len(lv.binders))
	for i, b := range lv.binders {
		var err error
		if publish[i], err = b.prepare(p); err != nil {
			return nil, err
		}
	}
	return publish, nil
}
