package loader_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// eachMode runs f with a Loader in process and with an isolated one.
func eachMode(t *testing.T, f func(t *testing.T, l *loader.Loader, isolated bool)) {
	if !pcall.Supported {
		testenv.Skipf(t, "no native calls in this build")
	}
	for _, isolated := range []bool{false, true} {
		t.Run(fmt.Sprint("isolated=", isolated), func(t *testing.T) {
			var opts loader.Options
			if isolated {
				opts.Isolation = isolate.New(isolate.Options{})
			}
			l := loader.New(opts)
			t.Cleanup(func() { l.Close(context.Background()) })
			f(t, l, isolated)
		})
	}
}

// TestLookupSearchesGlibc: Lookup is dlsym on a handle, whose search
// includes glibc's libraries among the dependencies: malloc on libz is
// libc's (the host's very malloc in process), callable, in both modes.
func TestLookupSearchesGlibc(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	libz := testenv.SystemLib(t, "libz.so.1", "zlib1g")
	eachMode(t, func(t *testing.T, l *loader.Loader, isolated bool) {
		p, err := l.Load(context.Background(), libz)
		if err != nil {
			t.Fatal(err)
		}
		s, err := p.Lookup("malloc")
		if err != nil {
			t.Fatalf("Lookup(malloc) on libz: %v", err)
		}
		if !s.Func {
			t.Errorf("malloc: %+v, want a function", s)
		}
		if !isolated {
			libc, err := dlsvc.OpenHostLibrary("libc.so.6")
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := libc.Lookup("malloc", ""); s.Addr != want {
				t.Errorf("Lookup(malloc) = %#x, libc's malloc is %#x", s.Addr, want)
			}
		}
		malloc, err := loader.Bind1[uint64, uint64](fnOf(t, p, "malloc"))
		if err != nil {
			t.Fatal(err)
		}
		free, err := loader.Bind1[uint64, int32](fnOf(t, p, "free"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := malloc(context.Background(), 64)
		if err != nil || m == 0 {
			t.Fatalf("malloc(64) = %#x, %v", m, err)
		}
		if _, err := free(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLookupOrder: lk_order needs libm.so.6, lk_dep.so and libc.so.6, in
// that order, and lk_dep defines cos and abs too. dlsym's breadth-first
// search in DT_NEEDED order finds libm's cos (libm comes before lk_dep)
// and lk_dep's abs (lk_dep comes before libc); so does Lookup.
func TestLookupOrder(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	path := plugintest.Build(t, "lk_order")
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	eachMode(t, func(t *testing.T, l *loader.Loader, isolated bool) {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		abs, err := loader.Bind1[int32, int32](fnOf(t, p, "abs"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := abs(context.Background(), -1); err != nil || got != 4242 {
			t.Errorf("abs(-1) = %d, %v; want 4242 (lk_dep's, before libc's)", got, err)
		}
		cos, err := loader.Bind1[float64, float64](fnOf(t, p, "cos"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := cos(context.Background(), 0); err != nil || got != 1 {
			t.Errorf("cos(0) = %v, %v; want 1 (libm's, before lk_dep's)", got, err)
		}
	})
}
