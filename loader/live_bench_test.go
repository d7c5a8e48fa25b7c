package loader

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
)

// liveBench loads plugin name as a Live from a copy in a temporary
// directory.
func liveBench(b *testing.B, l *Loader, name string) (*Live, string) {
	b.Helper()
	path := filepath.Join(b.TempDir(), name+".so")
	install(b, plugintest.Build(b, name), path)
	lv, err := l.LoadLive(context.Background(), path, LiveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lv.Close(context.Background()) })
	return lv, path
}

// BenchmarkLiveCall compares a call through a Live binding with one
// through a plain binding of the same function (issue 22: at most 1.05x).
func BenchmarkLiveCall(b *testing.B) {
	l := newLoader(b, Options{})
	p := load(b, l, "bench_tiny")
	lv, _ := liveBench(b, l, "bench_tiny")
	plain, err := Bind2[int64, int64, int64](fnOf(b, p, "tiny_add"))
	if err != nil {
		b.Fatal(err)
	}
	live, err := Bind2[int64, int64, int64](fnOf(b, lv, "tiny_add"))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		f    func(context.Context, int64, int64) (int64, error)
	}{{"plain", plain}, {"live", live}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if r, err := bc.f(context.Background(), int64(i), 1); err != nil || r != int64(i)+2 {
					b.Fatal(r, err)
				}
			}
		})
	}
	// The two side by side in blocks of 256 calls, alternating, so that
	// the load of a shared machine weighs on both alike: one op is one
	// block of each; the metrics are per call and their ratio.
	b.Run("interleaved", func(b *testing.B) {
		const block = 256
		var tp, tl time.Duration
		minP, minL := time.Duration(1<<62), time.Duration(1<<62)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			for j := int64(0); j < block; j++ {
				if _, err := plain(context.Background(), j, 1); err != nil {
					b.Fatal(err)
				}
			}
			t1 := time.Now()
			for j := int64(0); j < block; j++ {
				if _, err := live(context.Background(), j, 1); err != nil {
					b.Fatal(err)
				}
			}
			dp, dl := t1.Sub(t0), time.Since(t1)
			tp, tl = tp+dp, tl+dl
			minP, minL = min(minP, dp), min(minL, dl)
		}
		calls := float64(b.N) * block
		b.ReportMetric(float64(tp.Nanoseconds())/calls, "plain-ns/call")
		b.ReportMetric(float64(tl.Nanoseconds())/calls, "live-ns/call")
		b.ReportMetric(float64(tl)/float64(tp), "live/plain")
		b.ReportMetric(float64(minL)/float64(minP), "min-live/min-plain")
	})
}

// BenchmarkReload compares a reload (swap: from the start of Reload until
// the new version serves) with a plain Load of the same file (issue 22:
// at most 1.2x), side by side: each op is one Load (then Close, not
// timed) and one Reload, with two Loaders of the same options. ns/op
// counts both, and the old version's drain and close. Its isolated half
// is BenchmarkReloadIsolated.
func BenchmarkReload(b *testing.B) { ReloadBench(b, Options{}, nil) }

// ReloadBench is BenchmarkReload with Loaders of opts (isolated, for the
// external benchmark); ready, when not nil, runs untimed before each
// Load and each Reload (an isolated spare child's start).
func ReloadBench(b *testing.B, opts Options, ready func() error) {
	if ready == nil {
		ready = func() error { return nil }
	}
	for _, name := range []string{"live_a", "bench_tiny"} {
		b.Run(name, func(b *testing.B) {
			path := plugintest.Build(b, name)
			plain := newLoader(b, opts)
			lv, _ := liveBench(b, newLoader(b, opts), name)
			var swap, load time.Duration
			lv.opts.OnReload = func(e ReloadEvent) { swap += e.Swap }
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := ready(); err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				p, err := plain.Load(context.Background(), path)
				load += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				p.Close(context.Background())
				if err := ready(); err != nil {
					b.Fatal(err)
				}
				if err := lv.Reload(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(load.Nanoseconds())/float64(b.N), "load-ns/op")
			b.ReportMetric(float64(swap.Nanoseconds())/float64(b.N), "swap-ns/op")
			b.ReportMetric(float64(swap)/float64(load), "swap/load")
		})
	}
}

// BenchmarkReloadPause measures the pause callers see (issue 22: the
// longest call during a reload at most 2x a plain call's p99): one
// goroutine times each call of a plain binding (no reloads), then each
// call through a Live binding while the benchmark's goroutine reloads the
// plugin b.N times. Metrics: p99, p99.9 and max of both phases. On a
// shared machine the max of either phase is the longest time the caller's
// thread was descheduled, not a cost of the call. Its isolated half is
// BenchmarkReloadPauseIsolated.
func BenchmarkReloadPause(b *testing.B) { ReloadPauseBench(b, Options{}, 1<<20) }

// ReloadPauseBench is BenchmarkReloadPause with a Loader of opts
// (isolated, for the external benchmark) and plainCalls timed calls of
// the plain binding.
func ReloadPauseBench(b *testing.B, opts Options, plainCalls int) {
	const maxSamples = 1 << 22
	l := newLoader(b, opts)
	p := load(b, l, "bench_tiny")
	plain, err := Bind2[int64, int64, int64](fnOf(b, p, "tiny_add"))
	if err != nil {
		b.Fatal(err)
	}
	lv, _ := liveBench(b, l, "bench_tiny")
	live, err := Bind2[int64, int64, int64](fnOf(b, lv, "tiny_add"))
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, plainCalls)
	for i := 0; i < plainCalls; i++ {
		t0 := time.Now()
		if _, err := plain(context.Background(), int64(i), 1); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}

	var stop atomic.Bool
	during := make([]time.Duration, 0, maxSamples)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load() && len(during) < maxSamples; i++ {
			t0 := time.Now()
			if _, err := live(context.Background(), int64(i), 1); err != nil {
				panic(err)
			}
			during = append(during, time.Since(t0))
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := lv.Reload(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	plainP99 := report(b, "plain", lat) // after ResetTimer, which drops metrics
	reloadP99 := report(b, "reload", during)
	b.ReportMetric(float64(len(during))/float64(b.N), "calls/reload")
	if plainP99 > 0 {
		// The ratio (target 2): a call during reloads against a
		// plain call, both at their 99th percentile.
		b.ReportMetric(float64(reloadP99)/float64(plainP99), "reload-p99/plain-p99")
	}
}

// report sorts lat, reports its p99, p99.9 and max as metrics and
// returns the p99.
func report(b *testing.B, phase string, lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	p99 := lat[len(lat)*99/100]
	b.ReportMetric(float64(p99.Nanoseconds()), phase+"-p99-ns")
	b.ReportMetric(float64(lat[len(lat)*999/1000].Nanoseconds()), phase+"-p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), phase+"-max-ns")
	return p99
}
