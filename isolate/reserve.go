//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"runtime"
	"sync"
)

// threadReserve is how many idle threads a child's runtime makes before
// its plugin runs: one per P and one more. The runtime makes a thread
// when it needs one and has none idle (to run a P, or for a goroutine
// blocked in a system call); once a plugin has taken every thread its
// limit leaves, such a thread cannot be made and the runtime ends the
// child (a pthread_create failure is fatal to it). With the reserve its
// needs are met from threads it already has (TestHostileThreadFlood,
// TestHostileForkBomb). In a spare the reserve also spares the load a
// clone3 sent to the listener (docs/ISOLATION.md, "The spare's timed
// start").
func threadReserve() int { return runtime.GOMAXPROCS(0) + 1 }

// reserveThreads makes the runtime hold threadReserve threads at once,
// each locked by a goroutine until all are, then lets them go: the
// runtime keeps a thread it made, idle, for its next need
// (TestSpareIdleThreadsKept, docs/ASSUMPTIONS.md). The child starts it
// as soon as its serving goroutines are started and waits for it before
// its limits and its filter, so the threads need no round trip, count
// against the limit like the rest of the runtime's (minThreads), and are
// made while the child reads its request (on the other core, where there
// is one) rather than after. It first waits until every serving
// goroutine has locked its thread (serving): one that locked later could
// take a reserved thread. The returned func waits until they are made.
func reserveThreads(serving *sync.WaitGroup) (wait func()) {
	done := make(chan struct{})
	go func() {
		serving.Wait()
		idleThreads(threadReserve())
		close(done)
	}()
	return func() { <-done }
}

// idleThreads makes the runtime hold n threads at once, then lets them
// go idle.
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
