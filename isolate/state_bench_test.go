//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// BenchmarkIsolatedStateRead: the host reads an isolated plugin's state
// counter from its own mapping of the state file (Plugin.ReadState), and
// asks the plugin for it with a call (counter_get through a binding), in
// alternating blocks of the same run; ratio is read/call of the fastest
// block of each (docs/STATE.md, Figures):
//
//	go test ./isolate -run '^$' -bench IsolatedStateRead -count 5
func BenchmarkIsolatedStateRead(b *testing.B) {
	ctx := context.Background()
	iso := isolate.New(isolate.Options{})
	l := loader.New(loader.Options{Isolation: iso})
	defer l.Close(ctx)
	p, err := l.LoadWith(ctx, plugintest.Build(b, "state_counter"), loader.LoadOptions{StateFile: filepath.Join(b.TempDir(), "s")})
	if err != nil {
		b.Fatal(err)
	}
	f, err := p.Func("counter_get")
	if err != nil {
		b.Fatal(err)
	}
	get, err := loader.Bind0[int64](f)
	if err != nil {
		b.Fatal(err)
	}
	var buf [8]byte
	read := func() uint64 {
		if err := p.ReadState(0, buf[:]); err != nil {
			b.Fatal(err)
		}
		return binary.LittleEndian.Uint64(buf[:])
	}
	callGet := func() uint64 {
		n, err := get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return uint64(n)
	}
	mustCall(b, p, "counter_bump")
	const block = 256
	best := [2]float64{-1, -1}
	b.ResetTimer()
	for done := 0; done < b.N; done += 2 * block {
		for k, fn := range [2]func() uint64{read, callGet} {
			start := time.Now()
			for i := 0; i < block; i++ {
				if fn() != 1 {
					b.Fatal("state counter is not 1")
				}
			}
			if d := float64(time.Since(start).Nanoseconds()) / block; best[k] < 0 || d < best[k] {
				best[k] = d
			}
		}
	}
	b.ReportMetric(best[0], "read-ns")
	b.ReportMetric(best[1], "call-ns")
	b.ReportMetric(best[0]/best[1], "ratio")
}
