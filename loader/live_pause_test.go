package loader

import (
	"context"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkReloadPause measures the pause callers see (issue 22: the
// longest call during a reload at most 2x a plain call's p99). Its
// isolated half is BenchmarkReloadPauseIsolated.
func BenchmarkReloadPause(b *testing.B) { ReloadPauseBench(b, Options{}) }

// pauseCallers is the number of goroutines calling during
// ReloadPauseBench, as in LiveUnderLoad.
const pauseCallers = 8

// ReloadPauseBench times every call of pauseCallers goroutines through
// a Live binding while windows alternate: a reload window (one Reload,
// from its start until it returns, the old version drained) and a
// quiet window as long, with no reload. A call is the reload's when it
// overlapped a reload window; one that straddles two windows counts in
// both (the same rule for both kinds). The quiet windows' longest call
// is what the machine itself costs the same callers (a thread
// descheduled, the Go scheduler's time slice); their p99 is the plain
// call's. Metrics: p99 and max of each kind of window, the issue's
// ratio reload-max/quiet-p99, and reload-max/quiet-max.
func ReloadPauseBench(b *testing.B, opts Options) {
	l := newLoader(b, opts)
	lv, _ := liveBench(b, l, "bench_tiny")
	live, err := Bind2[int64, int64, int64](fnOf(b, lv, "tiny_add"))
	if err != nil {
		b.Fatal(err)
	}
	// window counts the windows: 0 before the first, odd a reload's,
	// even (from 2) a quiet one's.
	var window atomic.Uint64
	var stop atomic.Bool
	hists := make([][2]latHist, pauseCallers) // [quiet, reload] per caller: window%2
	// winMax is each window's longest call (ns), its callers' maxima
	// merged when they see the window change.
	winMax := make([]atomic.Int64, 2*b.N+2)
	var wg sync.WaitGroup
	for g := range hists {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &hists[g]
			var last uint64 // the window of local's calls
			var local time.Duration
			for i := int64(0); !stop.Load(); i++ {
				w0 := window.Load()
				t0 := time.Now()
				if _, err := live(context.Background(), i, 1); err != nil {
					panic(err)
				}
				d := time.Since(t0)
				w1 := window.Load()
				if w1 == 0 {
					continue
				}
				// A call belongs to every window it overlaps: one that
				// straddles a change counts in both kinds, alike.
				w := max(w0, 1)
				h[w%2].add(d)
				if w1 != w {
					h[(w+1)%2].add(d) // the other kind, once
					for x := w + 1; x <= min(w1, uint64(len(winMax)-1)); x++ {
						atomicMax(&winMax[x], d) // every window it overlapped
					}
				}
				if w != last {
					atomicMax(&winMax[min(last, uint64(len(winMax)-1))], local)
					last, local = w, 0
				}
				local = max(local, d)
			}
			atomicMax(&winMax[min(last, uint64(len(winMax)-1))], local)
		}()
	}
	var reloadT, quietT time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		window.Add(1)
		t0 := time.Now()
		if err := lv.Reload(context.Background()); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		window.Add(1)
		t1 := time.Now()
		time.Sleep(d) // the quiet window: as long, nothing done
		reloadT, quietT = reloadT+d, quietT+time.Since(t1)
	}
	window.Add(1) // the last quiet window ends
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	var quiet, reload latHist
	for i := range hists {
		quiet.merge(&hists[i][0])
		reload.merge(&hists[i][1])
	}
	qp99, rp99 := quiet.quantile(0.99), reload.quantile(0.99)
	b.ReportMetric(float64(qp99.Nanoseconds()), "quiet-p99-ns")
	b.ReportMetric(float64(quiet.max.Nanoseconds()), "quiet-max-ns")
	b.ReportMetric(float64(rp99.Nanoseconds()), "reload-p99-ns")
	b.ReportMetric(float64(reload.max.Nanoseconds()), "reload-max-ns")
	b.ReportMetric(float64(reloadT.Nanoseconds())/float64(b.N), "window-ns")
	b.ReportMetric(float64(quietT)/float64(reloadT), "quiet/reload-time")
	// The callers' throughput in reload windows over quiet ones: what
	// the reload's work took from them.
	b.ReportMetric(float64(reload.n)/float64(reloadT)/(float64(quiet.n)/float64(quietT)), "reload/quiet-calls-per-s")
	if qp99 > 0 && quiet.max > 0 {
		b.ReportMetric(float64(rp99)/float64(qp99), "reload-p99/quiet-p99")
		b.ReportMetric(float64(reload.max)/float64(qp99), "reload-max/quiet-p99")
		b.ReportMetric(float64(reload.max)/float64(quiet.max), "reload-max/quiet-max")
	}
	// The longest call of a typical window, and of the one in ten
	// with the longest: robust against one descheduled thread.
	var qm, rm []time.Duration
	for w := 1; w <= 2*b.N; w++ {
		d := time.Duration(winMax[w].Load())
		if w%2 == 1 {
			rm = append(rm, d)
		} else {
			qm = append(qm, d)
		}
	}
	slices.Sort(qm)
	slices.Sort(rm)
	b.ReportMetric(float64(qm[len(qm)/2].Nanoseconds()), "quiet-winmax-p50-ns")
	b.ReportMetric(float64(rm[len(rm)/2].Nanoseconds()), "reload-winmax-p50-ns")
	b.ReportMetric(float64(qm[len(qm)*9/10].Nanoseconds()), "quiet-winmax-p90-ns")
	b.ReportMetric(float64(rm[len(rm)*9/10].Nanoseconds()), "reload-winmax-p90-ns")
	runtime.KeepAlive(lv)
}

// atomicMax raises m to d when d is longer.
func atomicMax(m *atomic.Int64, d time.Duration) {
	for {
		cur := m.Load()
		if int64(d) <= cur || m.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// latHist is a histogram of latencies in buckets of 1/32 of a power of
// two (quantiles within 3%), with the exact maximum: millions of calls
// per window fit in a fixed array, and adding is a few instructions.
type latHist struct {
	n   uint64
	max time.Duration
	b   [64 * latSub]uint64
}

const latSub = 32

func latBucket(ns uint64) int {
	if ns < latSub {
		return int(ns)
	}
	shift := bits.Len64(ns) - 6 // ns>>shift is in [32, 64)
	return latSub*(shift+1) + int(ns>>shift) - latSub
}

// latUpper is the largest latency of bucket i.
func latUpper(i int) time.Duration {
	if i < latSub {
		return time.Duration(i)
	}
	shift := i/latSub - 1
	return time.Duration((uint64(i%latSub+latSub+1) << shift) - 1)
}

func (h *latHist) add(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.b[latBucket(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *latHist) merge(o *latHist) {
	for i, c := range o.b {
		h.b[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the upper bound of the bucket that holds quantile q
// (at most the maximum).
func (h *latHist) quantile(q float64) time.Duration {
	want := uint64(q * float64(h.n))
	var seen uint64
	for i, c := range h.b {
		seen += c
		if c > 0 && seen > want {
			return min(latUpper(i), h.max)
		}
	}
	return h.max
}

func TestLatHist(t *testing.T) {
	var h latHist
	for _, ns := range []uint64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 123456, 1 << 40} {
		i := latBucket(ns)
		if lo := latUpper(i - 1); i > 0 && time.Duration(ns) <= lo {
			t.Errorf("%d in bucket %d, but bucket %d ends at %d", ns, i, i-1, lo)
		}
		if hi := latUpper(i); time.Duration(ns) > hi || float64(hi-time.Duration(ns)) > float64(ns)/latSub+1 {
			t.Errorf("%d in bucket %d, which ends at %d", ns, i, hi)
		}
	}
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	if p := h.quantile(0.99); p < 990*time.Microsecond || p > 1000*time.Microsecond {
		t.Errorf("p99 of 1..1000 µs: %v", p)
	}
	if h.max != time.Millisecond || h.n != 1000 {
		t.Errorf("max %v, n %d", h.max, h.n)
	}
}
