package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// watchMask is what changes a plugin file: written in place (a compiler,
// cp), renamed over (an atomic install), linked or created anew.
const watchMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE

// watcher reloads a Live when its file changes: inotify on the file's
// directory (the file itself may be replaced), debounced.
type watcher struct {
	f  *os.File
	wg sync.WaitGroup
}

func (lv *Live) startWatch() (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch: inotify_init1: %w", err)
	}
	dir, base := filepath.Split(lv.path)
	if _, err := unix.InotifyAddWatch(fd, dir, watchMask); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch %s: %w", dir, err)
	}
	// A non-blocking descriptor in an os.File is served by the runtime's
	// poller: Close wakes a Read in progress.
	w := &watcher{f: os.NewFile(uintptr(fd), "inotify")}
	changes := make(chan struct{}, 1)
	w.wg.Add(2)
	go func() {
		defer w.wg.Done()
		defer close(changes)
		buf := make([]byte, 64<<10)
		for {
			n, err := w.f.Read(buf)
			if err != nil {
				return // closed by stop
			}
			if namesFile(buf[:n], base) {
				select {
				case changes <- struct{}{}:
				default: // a change is already pending
				}
			}
		}
	}()
	go func() {
		defer w.wg.Done()
		lv.debounce(changes)
	}()
	return w, nil
}

// debounce reloads lv once changes has been quiet for the debounce time
// after a change, until changes is closed.
func (lv *Live) debounce(changes <-chan struct{}) {
	quiet := lv.opts.Debounce
	if quiet <= 0 {
		quiet = DefaultDebounce
	}
	timeout := lv.opts.ReloadTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	t := time.NewTimer(quiet)
	t.Stop()
	for {
		select {
		case _, ok := <-changes:
			if !ok {
				t.Stop()
				return
			}
			t.Reset(quiet)
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			ev, _ := lv.reload(ctx, true)
			cancel()
			if lv.opts.OnReload != nil {
				lv.opts.OnReload(ev)
			}
		}
	}
}

// namesFile reports whether the inotify events in b (a copy of what the
// kernel wrote) include one about the file name.
func namesFile(b []byte, name string) bool {
	const hdr = 16 // int wd; uint32 mask, cookie, len
	for len(b) >= hdr {
		n := binary.LittleEndian.Uint32(b[12:])
		if uint64(n) > uint64(len(b)-hdr) {
			return false
		}
		ev := b[hdr : hdr+int(n)]
		if i := bytes.IndexByte(ev, 0); i >= 0 {
			ev = ev[:i]
		}
		if string(ev) == name {
			return true
		}
		b = b[hdr+int(n):]
	}
	return false
}

// stop closes the inotify descriptor and waits for the watcher's
// goroutines (a reload in progress finishes first).
func (w *watcher) stop() {
	w.f.Close()
	w.wg.Wait()
}
