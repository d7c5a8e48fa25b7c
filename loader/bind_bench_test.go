package loader

import (
	"context"
	"testing"
)

// BenchmarkBind compares a typed binding with the raw protected call it
// wraps (Func.Call), on a two-argument integer function (tiny_add adds
// its global counter, 1), plus a float32 binding and the reflect-based Bind.
func BenchmarkBind(b *testing.B) {
	p := load(b, newLoader(b, Options{}), "bench_tiny")
	b.Run("raw", func(b *testing.B) {
		f, err := p.Func("tiny_add")
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if r, err := f.Call(context.Background(), uint64(i), 1); err != nil || r != uint64(i)+2 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("typed", func(b *testing.B) {
		f, err := Bind2[int64, int64, int64](fnOf(b, p, "tiny_add"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if r, err := f(context.Background(), int64(i), 1); err != nil || r != int64(i)+2 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("typed-float32", func(b *testing.B) {
		f, err := Bind2[float32, float32, float32](fnOf(b, load(b, newLoader(b, Options{}), "host_types"), "mulf"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if r, err := f(context.Background(), 1.5, 2); err != nil || r != 3 {
				b.Fatal(r, err)
			}
		}
	})
	b.Run("reflect", func(b *testing.B) {
		var f func(context.Context, int64, int64) (int64, error)
		if err := Bind(fnOf(b, p, "tiny_add"), &f); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if r, err := f(context.Background(), int64(i), 1); err != nil || r != int64(i)+2 {
				b.Fatal(r, err)
			}
		}
	})
}
