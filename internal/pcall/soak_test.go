package pcall

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestSoak traps 100,000 faults from 8 goroutines with healthy calls
// interleaved: every fault is reported, every healthy call is right, and
// the process's RSS and thread count stay flat.
func TestSoak(t *testing.T) {
	m := newTestImage(t, "soak.so")
	const workers = 8
	total := 100_000
	if testing.Short() || raceEnabled {
		total = 10_000
	}
	run := func(n int) {
		var wg sync.WaitGroup
		errc := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < n/workers; i++ {
					_, err := Call(m.fn("null_read"), nil)
					var fe *FaultError
					if !errors.As(err, &fe) || fe.Signal != syscall.SIGSEGV || fe.Addr != 0 || fe.PC != m.fn("null_read")+faultOff["null_read"] {
						errc <- errors.New("fault not reported: " + errString(err))
						return
					}
					a, b := uint64(w)<<32, uint64(i)
					r, err := Call(m.fn("add"), &Args{Int: [6]uint64{a, b}})
					if err != nil || r.Int != a+b {
						errc <- errors.New("healthy call wrong: " + errString(err))
						return
					}
				}
			}(w)
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
	}
	// Warm up: let the runtime create the threads and heap it needs.
	run(total / 4)
	runtime.GC()
	rss0, threads0 := procStatus(t, "VmRSS"), procStatus(t, "Threads")
	run(total)
	runtime.GC()
	rss1, threads1 := procStatus(t, "VmRSS"), procStatus(t, "Threads")
	t.Logf("%d faults: VmRSS %d -> %d kB, threads %d -> %d", total, rss0, rss1, threads0, threads1)
	if rss1-rss0 > 8<<10 {
		t.Errorf("VmRSS grew by %d kB over %d faults", rss1-rss0, total)
	}
	// The runtime may start a few more threads for 8 goroutines in cgo
	// calls on 2 Ps; a leak per fault would be thousands.
	if threads1 > threads0+workers {
		t.Errorf("thread count grew from %d to %d", threads0, threads1)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// TestDeadlineSoak interrupts spinning calls from several goroutines at
// once, mixed with faults and healthy calls: every spin ends with
// ErrDeadline, every fault is reported, every healthy call is right.
func TestDeadlineSoak(t *testing.T) {
	m := newTestImage(t, "deadsoak.so")
	fault, faultSig := "div_zero", syscall.SIGFPE
	if !m.has(fault) {
		fault, faultSig = "trap", syscall.SIGILL // AArch64: division does not trap
	}
	const workers = 4
	n := 50
	if testing.Short() {
		n = 10
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
				_, err := CallContext(ctx, m.fn("spin"), nil)
				cancel()
				if !errors.Is(err, ErrDeadline) {
					errc <- errors.New("spin not interrupted: " + errString(err))
					return
				}
				if _, err := Call(m.fn(fault), nil); !isSignal(err, faultSig) {
					errc <- errors.New("fault not reported: " + errString(err))
					return
				}
				a := uint64(w*1000 + i)
				if r, err := Call(m.fn("add"), &Args{Int: [6]uint64{a, a}}); err != nil || r.Int != 2*a {
					errc <- errors.New("healthy call wrong: " + errString(err))
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func isSignal(err error, sig syscall.Signal) bool {
	var fe *FaultError
	return errors.As(err, &fe) && fe.Signal == sig
}
