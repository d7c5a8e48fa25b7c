//go:build linux

package loader_test

import (
	"context"
	"testing"

	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestLiveUnderLoadIsolated is TestLiveUnderLoad with an isolated Loader:
// each reload starts a child that maps the same state file, the old
// child drains and ends; no call fails, the state counts every call, and
// no descriptor, mapping or child is left. 200 reloads, as in process,
// with the same mix of builds (a broken one every tenth): each starts a
// child, so the test takes seconds where the in-process one takes
// milliseconds.
func TestLiveUnderLoadIsolated(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	loader.LiveUnderLoad(t, loader.Options{Isolation: isolate.New(isolate.Options{})}, 200)
}

// TestLiveHandoverIsolated is TestLiveHandover with an isolated Loader
// and the state in the Live's memfd: the new child migrates, the host
// commits; a failed migration loads the previous build in a new child
// again.
func TestLiveHandoverIsolated(t *testing.T) {
	testenv.NeedNative(t, "isolated plugins (seccomp filters, user namespaces)")
	loader.LiveHandover(t, loader.Options{Isolation: isolate.New(isolate.Options{})}, false)
}

// BenchmarkReloadIsolated is BenchmarkReload with isolated Loaders: a
// plain isolated Load (a child's start) against a reload (a new child,
// the swap); with spare, each takes a spare child started (untimed)
// before it. docs/STATE.md, Figures.
func BenchmarkReloadIsolated(b *testing.B) {
	b.Run("new-child", func(b *testing.B) {
		loader.ReloadBench(b, loader.Options{Isolation: isolate.New(isolate.Options{})}, nil)
	})
	b.Run("spare", func(b *testing.B) {
		iso := isolate.New(isolate.Options{Spare: true})
		defer iso.Close(context.Background())
		loader.ReloadBench(b, loader.Options{Isolation: iso}, iso.Prestart)
	})
}

// BenchmarkReloadPauseIsolated is BenchmarkReloadPause with an isolated
// Loader: every reload starts a child.
func BenchmarkReloadPauseIsolated(b *testing.B) {
	loader.ReloadPauseBench(b, loader.Options{Isolation: isolate.New(isolate.Options{})})
}
