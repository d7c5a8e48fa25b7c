package loader

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// A reload to a build with another state layout cannot migrate while the
// serving version has the state file mapped (the migration would lose
// what the old version writes meanwhile): the Live hands over. Calls are
// held (a call the closing old version refuses waits for the handover's
// end, then goes again); the old version is drained and closed, which
// releases the file; the new build loads and migrates. If that fails, the
// old build is loaded again from the descriptor the Live kept of its file
// (the path may hold the new build by then), on the unchanged state file,
// and serves again. Calls are held for the handover only: it is the one
// reload that pauses callers.

// handoverFallbackTimeout bounds loading the previous build again.
const handoverFallbackTimeout = 30 * time.Second

// keepBuild opens path and returns the descriptor when it is the file p
// was loaded from (same device, inode, size and modification time), for a
// handover's fallback; else -1.
func keepBuild(path string, p *Plugin) int {
	if p.obj == nil || p.obj.key == (fileKey{}) {
		return -1
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || statKey(&st) != p.obj.key {
		unix.Close(fd)
		return -1
	}
	return fd
}

// closeBuild closes v's build descriptor.
func closeBuild(v *liveVersion) {
	if v.build >= 0 {
		unix.Close(v.build)
		v.build = -1
	}
}

// handover reloads through a handover (see above). lv.mu is held.
func (lv *Live) handover(ctx context.Context, ev ReloadEvent, start time.Time, fail func(error) (ReloadEvent, error)) (ReloadEvent, error) {
	old := lv.cur.Load()
	var st unix.Stat_t
	if err := unix.Fstat(old.build, &st); err != nil {
		return fail(fmt.Errorf("handover: the serving build: %w", err))
	}
	image := make([]byte, st.Size)
	if _, err := fdReader(old.build).ReadAt(image, 0); err != nil {
		return fail(fmt.Errorf("handover: read the serving build: %w", err))
	}
	done := make(chan struct{})
	lv.handing.Store(&done)
	defer func() {
		lv.handing.Store(nil)
		close(done)
	}()
	lv.log.Info("handing over: the new build has another state layout", "plugin", old.p.Name(), "path", lv.path)
	// The drain is bounded by ctx: a call that never returns leaves the
	// old version closing in the background, and the handover falls back
	// (the previous build maps the unchanged layout, which needs no
	// exclusive lock).
	drained := make(chan error, 1)
	go func() { drained <- old.p.Close(context.Background()) }()
	var err error
	select {
	case cerr := <-drained:
		if cerr != nil {
			lv.log.Warn("closing the previous version failed", "plugin", old.p.Name(), "path", lv.path, "error", cerr)
		}
	case <-ctx.Done():
		err = fmt.Errorf("handover: the previous version did not drain: %w", ctx.Err())
	}
	var p *Plugin
	var publish []func()
	if err == nil {
		p, err = lv.l.load(ctx, lv.path, lv.src)
	}
	if err == nil {
		if publish, err = lv.prepare(p); err != nil {
			p.Close(context.Background())
		}
	}
	next := &liveVersion{gen: old.gen + 1}
	if err != nil {
		// Back to the old build, on the state file as it was.
		// A fresh context: ctx may be what ended the handover.
		bctx, cancel := context.WithTimeout(context.Background(), handoverFallbackTimeout)
		back, berr := lv.l.loadBytes(bctx, old.p.Name(), image, lv.src)
		cancel()
		if berr == nil {
			if publish, berr = lv.prepare(back); berr != nil {
				back.Close(context.Background())
			}
		}
		if berr != nil {
			lv.log.Error("the previous build cannot be loaded again: the live plugin is closed", "path", lv.path, "error", berr)
			return fail(errors.Join(err, fmt.Errorf("reload the previous build: %w", berr)))
		}
		p, next = back, &liveVersion{gen: old.gen}
	}
	next.p, next.build = p, old.build
	if err == nil {
		next.build = keepBuild(lv.path, p)
		closeBuild(old)
	}
	for _, pub := range publish {
		pub()
	}
	lv.cur.Store(next)
	ev.Swap = time.Since(start)
	if err != nil {
		return fail(err)
	}
	ev.Generation = next.gen
	lv.log.Info("reloaded plugin", "plugin", p.Name(), "path", lv.path, "generation", ev.Generation, "swap", ev.Swap, "handover", true)
	return ev, nil
}
