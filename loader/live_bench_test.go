package loader

import (
	"context"
	"path/filepath"
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
