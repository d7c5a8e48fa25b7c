//go:build linux

package loader

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/plugintest"
)

// threadGone waits, bounded by ctx, until OS thread tid of this process
// has exited.
func threadGone(ctx context.Context, t *testing.T, tid int) {
	t.Helper()
	path := fmt.Sprintf("/proc/self/task/%d", tid)
	for {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("thread %d did not exit: %v", tid, ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// onExitingThread runs f on a goroutine locked to an OS thread that ends
// with it, and sends that thread's id. (A goroutine that exits locked
// ends its thread, unless the thread is the main one, which the runtime
// keeps: f is then run from another.)
func onExitingThread(f func()) <-chan int {
	tids := make(chan int, 1)
	var start func()
	start = func() {
		runtime.LockOSThread() // never unlocked on the thread f runs on
		if unix.Gettid() == unix.Getpid() {
			done := make(chan struct{})
			go func() {
				defer close(done)
				start()
			}()
			<-done
			runtime.UnlockOSThread()
			return
		}
		tids <- unix.Gettid()
		f()
	}
	go start()
	return tids
}

// A pthread key destructor in a closed plugin does not run when a thread
// that set the key exits (issue 19, item 6): Close deleted the key. The
// open plugin's runs (the control: the thread did exit and glibc ran
// destructors).
func TestPthreadKeyDestructorOfClosedPlugin(t *testing.T) {
	mem, err := unix.Mmap(-1, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	plugintest.Build(t, "key_dtor")
	for _, tt := range []struct {
		name  string
		close bool
		want  int64
	}{
		{"open plugin: the destructor runs", false, 1},
		{"closed plugin: it does not", true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), hangBound)
			defer cancel()
			counter := (*int64)(unsafe.Pointer(&mem[0]))
			atomic.StoreInt64(counter, 0)
			l := newLoader(t, Options{})
			p := load(t, l, "key_dtor")
			tids := onExitingThread(func() {
				if got := callErr(t, p, "key_set", uint64(uintptr(unsafe.Pointer(counter)))); got != 0 {
					t.Errorf("key_set = %d", got)
				}
				if n := p.obj.dl.KeysPending(); n != 1 {
					t.Errorf("keys recorded for the plugin: %d, want 1", n)
				}
				if tt.close {
					if err := p.Close(context.Background()); err != nil {
						t.Errorf("close: %v", err)
					}
				}
			})
			threadGone(ctx, t, <-tids)
			if got := atomic.LoadInt64(counter); got != tt.want {
				t.Fatalf("destructor ran %d times, want %d", got, tt.want)
			}
		})
	}
}
