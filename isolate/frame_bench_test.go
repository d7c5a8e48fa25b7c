//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/baseline"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// BenchmarkCallGeneral: the general call (a 24-byte struct by value in,
// one back through memory: baseline.S24 to ffi_call.c's s24_fn), a
// callback (cb_store.c's cb_call calling a Go callback, nested in the
// call) and, for comparison, a host function (isolate_host.c's call_add)
// in process and isolated, side by side:
//
//	go test -run '^$' -bench CallGeneral -benchtime 20000x -count 5 ./isolate
func BenchmarkCallGeneral(b *testing.B) {
	ffi, err := plugintest.BuildErr("ffi_call")
	if err != nil {
		b.Fatal(err)
	}
	cbs, err := plugintest.BuildErr("cb_store")
	if err != nil {
		b.Fatal(err)
	}
	cb, err := loader.NewCallback(func(a, b int64) int64 { return a + b })
	if err != nil {
		b.Fatal(err)
	}
	defer cb.Release()
	host, err := plugintest.BuildErr("isolate_host")
	if err != nil {
		b.Fatal(err)
	}
	for _, where := range []string{"in-process", "isolated"} {
		var lo loader.Options
		if where == "isolated" {
			lo.Isolation = isolate.New(isolate.Options{})
		}
		l := loader.New(lo)
		for _, name := range []string{"host_strlen", "host_inside", "host_panic", "host_reenter"} {
			if _, err := l.RegisterHostFunc(name, func() int64 { return 0 }); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := l.RegisterHostFunc("host_add", func(a, b int64) int64 { return a + b }); err != nil {
			b.Fatal(err)
		}
		hp, err := l.Load(context.Background(), host)
		if err != nil {
			b.Fatal(err)
		}
		callAdd, err := loader.Bind2[int64, int64, int64](fnOf(b, hp, "call_add"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("hostfunc/"+where, func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				r, err := callAdd(context.Background(), int64(i), 1)
				ds = append(ds, time.Since(t0))
				if err != nil || r != int64(i)+2 {
					b.Fatal(r, err)
				}
			}
			median(b, ds, 1, "p50-ns")
		})
		p, err := l.Load(context.Background(), ffi)
		if err != nil {
			b.Fatal(err)
		}
		q, err := l.Load(context.Background(), cbs)
		if err != nil {
			b.Fatal(err)
		}
		s24, err := loader.Bind1[baseline.S24, baseline.S24](fnOf(b, p, "s24_fn"))
		if err != nil {
			b.Fatal(err)
		}
		callPtr, err := loader.Bind3[uintptr, int64, int64, int64](fnOf(b, q, "cb_call"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run("struct24/"+where, func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				r, err := s24(context.Background(), baseline.S24{A: int64(i), B: 2, C: 3})
				ds = append(ds, time.Since(t0))
				if err != nil || r.A != int64(i)+1 {
					b.Fatal(r, err)
				}
			}
			median(b, ds, 1, "p50-ns")
		})
		b.Run("callback/"+where, func(b *testing.B) {
			ds := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				r, err := callPtr(context.Background(), cb.Ptr(), int64(i), 1)
				ds = append(ds, time.Since(t0))
				if err != nil || r != int64(i)+1 {
					b.Fatal(r, err)
				}
			}
			median(b, ds, 1, "p50-ns")
		})
		l.Close(context.Background())
	}
}
