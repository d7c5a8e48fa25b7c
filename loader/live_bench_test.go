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
	b.Cleanup(func() { lv.Close() })
	return lv, path
}

// BenchmarkLiveCall compares a call through a Live binding with one
// through a plain binding of the same function (issue 22: at most 1.05x).
func BenchmarkLiveCall(b *testing.B) {
	l := newLoader(b, Options{})
	p := load(b, l, "bench_tiny")
	lv, _ := liveBench(b, l, "bench_tiny")
	plain, err := Bind2[int64, int64, int64](p, "tiny_add")
	if err != nil {
		b.Fatal(err)
	}
	live, err := LiveBind2[int64, int64, int64](lv, "tiny_add")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		f    func(int64, int64) (int64, error)
	}{{"plain", plain}, {"live", live}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if r, err := bc.f(int64(i), 1); err != nil || r != int64(i)+2 {
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
				if _, err := plain(j, 1); err != nil {
					b.Fatal(err)
				}
			}
			t1 := time.Now()
			for j := int64(0); j < block; j++ {
				if _, err := live(j, 1); err != nil {
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
// the new version serves; ns/op also counts draining and closing the old
// version) with a plain Load of the same file (issue 22: at most 1.2x).
func BenchmarkReload(b *testing.B) {
	for _, name := range []string{"live_a", "bench_tiny"} {
		b.Run(name+"/load", func(b *testing.B) {
			l := newLoader(b, Options{})
			path := plugintest.Build(b, name)
			for i := 0; i < b.N; i++ {
				p, err := l.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				p.Close()
				b.StartTimer()
			}
		})
		b.Run(name+"/reload", func(b *testing.B) {
			var swap time.Duration
			l := newLoader(b, Options{})
			lv, _ := liveBench(b, l, name)
			lv.opts.OnReload = func(e ReloadEvent) { swap += e.Swap }
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := lv.Reload(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(swap.Nanoseconds())/float64(b.N), "swap-ns/op")
		})
	}
}

// BenchmarkReloadPause measures the pause callers see: the p99 and the
// longest of a plain binding's calls, then the longest call through a
// Live binding while the plugin is reloaded b.N times (issue 22: at most
// 2x the plain p99). One goroutine calls; the benchmark's goroutine
// reloads.
func BenchmarkReloadPause(b *testing.B) {
	const plainCalls = 1 << 20
	l := newLoader(b, Options{})
	p := load(b, l, "bench_tiny")
	plain, err := Bind2[int64, int64, int64](p, "tiny_add")
	if err != nil {
		b.Fatal(err)
	}
	lv, _ := liveBench(b, l, "bench_tiny")
	live, err := LiveBind2[int64, int64, int64](lv, "tiny_add")
	if err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, plainCalls)
	for i := 0; i < plainCalls; i++ {
		t0 := time.Now()
		if _, err := plain(int64(i), 1); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	p99, plainMax := lat[len(lat)*99/100], lat[len(lat)-1]

	var stop atomic.Bool
	var during time.Duration
	var n int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			t0 := time.Now()
			if _, err := live(int64(i), 1); err != nil {
				panic(err)
			}
			during = max(during, time.Since(t0))
			n++
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
	b.ReportMetric(float64(p99.Nanoseconds()), "plain-p99-ns")
	b.ReportMetric(float64(plainMax.Nanoseconds()), "plain-max-ns")
	b.ReportMetric(float64(during.Nanoseconds()), "reload-max-ns")
	b.ReportMetric(float64(during)/float64(p99), "max/p99")
	b.ReportMetric(float64(n)/float64(b.N), "calls/reload")
}
