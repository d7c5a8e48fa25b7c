//go:build linux

package loader

import (
	"context"
	"testing"

	"github.com/runplug/runplug/internal/baseline"
	"github.com/runplug/runplug/internal/dlsvc"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
)

// dlBenchSetup loads cxx_exc with runplug and, side by side, with glibc's
// dlopen (its own copies of the C++ runtime, found by ld.so).
func dlBenchSetup(b *testing.B) (p *Plugin, sys *baseline.SystemLibrary) {
	path := plugintest.Build(b, "cxx_exc")
	l := New(Options{})
	b.Cleanup(func() { l.Close(context.Background()) })
	p, err := l.Load(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	sys, err = baseline.DlopenNow(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sys.Close() })
	return p, sys
}

// BenchmarkDLFindObject: _dl_find_object for a PC in a runplug object
// (runplug's, what libgcc_s asks for every frame it unwinds) against
// glibc's for a PC in a dlopen'd object. Each op is one lookup; the loop
// runs in C.
func BenchmarkDLFindObject(b *testing.B) {
	p, sys := dlBenchSetup(b)
	ours := lookup(b, p, "throw_once")
	theirs, err := sys.Dlsym("throw_once")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("runplug", func(b *testing.B) {
		if got := dlsvc.DLBenchFind(ours, b.N, true); got != int64(b.N) {
			b.Fatalf("found %d of %d", got, b.N)
		}
	})
	b.Run("glibc", func(b *testing.B) {
		if got := dlsvc.DLBenchFind(theirs, b.N, false); got != int64(b.N) {
			b.Fatalf("found %d of %d (glibc without _dl_find_object?)", got, b.N)
		}
	})
}

// BenchmarkCXXThrow: one C++ throw (in cxx_dep) and catch (in cxx_exc)
// per op, b.N of them in one call: runplug's load against glibc's dlopen
// of the same file.
func BenchmarkCXXThrow(b *testing.B) {
	p, sys := dlBenchSetup(b)
	f := mustFunc(b, p, "throw_many")
	theirs, err := sys.Dlsym("throw_many")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("runplug", func(b *testing.B) {
		if r, err := f.Call(uint64(b.N)); err != nil || r != uint64(b.N) {
			b.Fatalf("throw_many = %d, %v", r, err)
		}
	})
	b.Run("dlopen", func(b *testing.B) {
		r, err := pcall.Call(theirs, &pcall.Args{Int: [6]uint64{uint64(b.N)}})
		if err != nil || r.Int != uint64(b.N) {
			b.Fatalf("throw_many = %d, %v", r.Int, err)
		}
	})
}
