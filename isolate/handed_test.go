//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// TestPluginFileHanded: the host opens the plugin and hands the file to
// its child (wire.PluginFD), so the child's load sends no open of it to
// the host's listener (a round trip of every start); the child holds the
// descriptor no longer than its load: the plugin's code finds it closed.
// A file the host cannot open the child opens itself, as before (the
// listener sees that open), and fails as before. (Under the race
// detector the filter allows opens outright, race.go: the listener sees
// none.)
func TestPluginFileHanded(t *testing.T) {
	path := plugintest.Build(t, "hostile")
	var mu sync.Mutex
	var opens []string
	seen := func() string {
		mu.Lock()
		defer mu.Unlock()
		s := strings.Join(opens, ", ")
		opens = nil
		return s
	}
	// Removed after the loader's cleanup, which ends its children.
	t.Cleanup(isolate.SetNotifHook(func(name, p string) {
		mu.Lock()
		opens = append(opens, name+" "+p)
		mu.Unlock()
	}))
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	p, err := l.Load(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if got := seen(); strings.Contains(got, path) {
		t.Errorf("the child opened its plugin itself: %s", got)
	}
	buf := make([]byte, 8)
	if r, err := callBufs(context.Background(), p, "read_fd", [6]uint64{wire.PluginFD, 0, 8}, map[int][]byte{1: buf}); err != nil || int64(r) != -int64(unix.EBADF) {
		t.Errorf("read of descriptor %d in the plugin = %d, %v; want EBADF", wire.PluginFD, int64(r), err)
	}
	missing := path + ".missing"
	if _, err := l.Load(context.Background(), missing); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("load of a missing file: %v", err)
	}
	if got := seen(); !raceBuild && !strings.Contains(got, "openat "+missing) {
		t.Errorf("the child's own open of a file the host could not open was not seen (%q): the hook or the listener is not what this test assumes", got)
	}
}
