//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// Benchmarks of isolated plugins, side by side with the same calls in
// process (docs/PERFORMANCE.md, Isolated):
//
//	go test -run '^$' -bench . -count 5 ./isolate

// median reports the median of durations as the metric unit.
func median(b *testing.B, ds []time.Duration, scale float64, unit string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2])/scale, unit)
}

// BenchmarkStart: spawn the child, map and link the plugin there, call it
// once; then close (not timed). With the default policy (new namespaces
// where the kernel permits; the network one shared when the host may make
// it), without namespaces, and with a spare child started ahead
// (Options.Spare; its start and confinement are not timed); and the
// default from a host with 200 MiB of live, touched heap (a fork that
// copies the host pays for its page tables, a vfork does not).
func BenchmarkStart(b *testing.B) {
	path, err := plugintest.BuildErr("isolate_faults")
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"default", "no-namespaces", "spare", "default-heap200"} {
		b.Run(mode, func(b *testing.B) {
			var ballast [][]byte
			if mode == "default-heap200" {
				for range 200 {
					m := make([]byte, 1<<20)
					for j := 0; j < len(m); j += 4096 {
						m[j] = 1
					}
					ballast = append(ballast, m)
				}
			}
			defer runtime.KeepAlive(ballast)
			pol := isolate.Policy{NoNamespaces: mode == "no-namespaces"}
			iso := isolate.New(isolate.Options{Policy: pol, Spare: mode == "spare"})
			defer iso.Close(context.Background())
			l := loader.New(loader.Options{Isolation: iso})
			defer l.Close(context.Background())
			ds := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// With a spare: its runtime is up before the timed part.
				b.StopTimer()
				if err := iso.Prestart(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				p, err := l.Load(context.Background(), path)
				if err != nil {
					b.Fatal(err)
				}
				f, err := p.Func("add")
				if err != nil {
					b.Fatal(err)
				}
				if r, err := f.Call(context.Background(), 1, 2); err != nil || r != 3 {
					b.Fatal(r, err)
				}
				ds = append(ds, time.Since(t0))
				b.StopTimer()
				p.Close(context.Background())
				b.StartTimer()
			}
			median(b, ds, 1e6, "p50-ms")
		})
	}
}

// loadBoth returns the plugin in process and isolated.
func loadBoth(b *testing.B, name string) map[string]*loader.Plugin {
	path, err := plugintest.BuildErr(name)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]*loader.Plugin{}
	for _, mode := range []string{"in-process", "isolated"} {
		o := loader.Options{}
		if mode == "isolated" {
			o.Isolation = isolate.New(isolate.Options{Channels: 8})
		}
		l := loader.New(o)
		b.Cleanup(func() { l.Close(context.Background()) })
		p, err := l.Load(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		out[mode] = p
	}
	return out
}

// BenchmarkCall: add(a, b), integer arguments and result, one goroutine,
// with GOMAXPROCS 1 and 2. p50-ns is the median of every call's own time.
func BenchmarkCall(b *testing.B) {
	ps := loadBoth(b, "isolate_faults")
	for _, procs := range []int{1, 2} {
		for _, mode := range []string{"in-process", "isolated"} {
			b.Run(fmt.Sprintf("%s/GOMAXPROCS=%d", mode, procs), func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				f, err := ps[mode].Func("add")
				if err != nil {
					b.Fatal(err)
				}
				ds := make([]time.Duration, b.N)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					t0 := time.Now()
					r, err := f.Call(context.Background(), uint64(i), 1)
					ds[i] = time.Since(t0)
					if err != nil || r != uint64(i)+1 {
						b.Fatal(r, err)
					}
				}
				b.StopTimer()
				median(b, ds, 1, "p50-ns")
			})
		}
	}
}

// BenchmarkBuffer4K: a 4 KiB buffer in and out (the plugin reads and
// rewrites every byte).
func BenchmarkBuffer4K(b *testing.B) {
	ps := loadBoth(b, "isolate_faults")
	for _, mode := range []string{"in-process", "isolated"} {
		b.Run(mode, func(b *testing.B) {
			f, err := ps[mode].Func("invert")
			if err != nil {
				b.Fatal(err)
			}
			invert, err := loader.Bind2[[]byte, int64, int64](f)
			if err != nil {
				b.Fatal(err)
			}
			buf := bytes.Repeat([]byte{1}, 4096)
			ctx := context.Background()
			ds := make([]time.Duration, b.N)
			b.SetBytes(2 * 4096)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				_, err := invert(ctx, buf, int64(len(buf)))
				ds[i] = time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			median(b, ds, 1, "p50-ns")
		})
	}
}

// BenchmarkThroughput: G goroutines calling add at once; ns/op is wall
// time per call.
func BenchmarkThroughput(b *testing.B) {
	ps := loadBoth(b, "isolate_faults")
	for _, g := range []int{1, 2, 8} {
		for _, mode := range []string{"in-process", "isolated"} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", mode, g), func(b *testing.B) {
				f, err := ps[mode].Func("add")
				if err != nil {
					b.Fatal(err)
				}
				var wg sync.WaitGroup
				b.ResetTimer()
				for w := 0; w < g; w++ {
					n := b.N / g
					if w == 0 {
						n += b.N % g
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < n; i++ {
							if _, err := f.Call(context.Background(), 1, 2); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
			})
		}
	}
}

// BenchmarkIdleRSS: 100 isolated plugins live at once, each called once;
// the resident and proportional set size of each idle child
// (/proc/PID/smaps_rollup). Run with -benchtime 1x.
func BenchmarkIdleRSS(b *testing.B) {
	path, err := plugintest.BuildErr("isolate_faults")
	if err != nil {
		b.Fatal(err)
	}
	const live = 100
	var rss, pss float64
	for i := 0; i < b.N; i++ {
		l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Channels: 1})})
		var pids []int
		for j := 0; j < live; j++ {
			p, err := l.Load(context.Background(), path)
			if err != nil {
				b.Fatal(err)
			}
			f, err := p.Func("add")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Call(context.Background(), 1, 2); err != nil {
				b.Fatal(err)
			}
			pids = append(pids, isolate.Pid(p))
		}
		for _, pid := range pids {
			r, p := smapsRollup(b, pid)
			rss += r
			pss += p
		}
		l.Close(context.Background())
	}
	b.ReportMetric(rss/float64(b.N*live), "rss-KiB/child")
	b.ReportMetric(pss/float64(b.N*live), "pss-KiB/child")
}

// smapsRollup returns a process's Rss and Pss in KiB.
func smapsRollup(b *testing.B, pid int) (rss, pss float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(string(f[1]), 64)
		switch string(f[0]) {
		case "Rss:":
			rss = v
		case "Pss:":
			pss = v
		}
	}
	return rss, pss
}
