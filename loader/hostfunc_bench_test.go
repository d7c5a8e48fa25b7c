package loader

import (
	"context"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/wire"
)

// BenchmarkHostFunc measures a plugin call whose native code calls one
// host function (call_add -> host_add), with the host function in its raw
// form and in its typed (reflect) form, against a plugin call alone.
func BenchmarkHostFunc(b *testing.B) {
	forms := []struct {
		name string
		fn   any
	}{
		{"raw", wire.RawHostFunc(func(a *pcall.Args) pcall.Result { return pcall.Result{Int: a.Int[0] + a.Int[1]} })},
		{"typed", func(x, y int64) int64 { return x + y }},
	}
	for _, form := range forms {
		b.Run(form.name, func(b *testing.B) {
			l := newLoader(b, Options{})
			var h hostCalls
			h.register(b, l, func(x int64) int64 { return x })
			l.host.mu.Lock()
			old := l.host.fns["host_add"]
			l.host.mu.Unlock()
			l.host.release(old)
			if _, err := l.RegisterHostFunc("host_add", form.fn); err != nil {
				b.Fatal(err)
			}
			p := load(b, l, "host_calls")
			f, err := Bind2[int64, int64, int64](fnOf(b, p, "call_add"))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if r, err := f(context.Background(), int64(i), 1); err != nil || r != int64(i)+2 {
					b.Fatal(r, err)
				}
			}
		})
	}
	b.Run("no-callback", func(b *testing.B) {
		p := load(b, newLoader(b, Options{}), "host_types")
		f, err := Bind1[int64, int64](fnOf(b, p, "id_i64"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if r, err := f(context.Background(), int64(i)); err != nil || r != int64(i) {
				b.Fatal(r, err)
			}
		}
	})
}
