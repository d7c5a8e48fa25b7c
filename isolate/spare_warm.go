//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"runtime"
	"sync"

	"github.com/runplug/runplug/loader"
)

// warmSpare does, in a spare before its filter and its request, the part
// of a first load that is the same for every plugin: loading glibc's
// libc.so.6, which gives the host's own copy (no plugin code, no
// constructor runs), reads ld.so's cache, parses the C library, runs the
// loader's code once (its pages faulted in) and grows the Go heap. It
// also leaves the runtime spareThreads idle threads: a load whose
// thread waits in a call sent to the listener (the plugin's openat)
// then hands its processor to one of them instead of making a thread,
// whose clone3 the filter would send to the listener too. The spare
// does it idle, ahead of its use (docs/ISOLATION.md, "The spare's timed
// start"). A failure is left to the load itself to meet and report.
// The idle threads count against the child's thread limit: under a
// Policy.Threads of the host's own, which it sized from minThreads, the
// spare makes none, and the plugin keeps all the headroom it was given.
func warmSpare(pol Policy) {
	ctx := context.Background()
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	if p, err := l.Load(ctx, "libc.so.6"); err == nil {
		p.Close(ctx)
	}
	if pol.Threads == 0 { // DefaultThreads: room for them
		idleThreads(spareThreads)
	}
}

// spareThreads is how many idle threads a spare leaves its runtime.
const spareThreads = 3

// idleThreads makes the runtime hold n threads at once (each locked by
// a goroutine until all are), then lets them go: the runtime keeps a
// thread it made, idle, for its next need.
func idleThreads(n int) {
	var held sync.WaitGroup
	release := make(chan struct{})
	var done sync.WaitGroup
	held.Add(n)
	done.Add(n)
	for range n {
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			held.Done()
			<-release
		}()
	}
	held.Wait()
	close(release)
	done.Wait()
}
