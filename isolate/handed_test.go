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
// (A spare's descriptors after its own are its runtime's.)
// A spare, started before its plugin was known, opens the file itself,
// as before. A load of a file the host cannot open fails as it did.
func TestPluginFileHanded(t *testing.T) {
	path := plugintest.Build(t, "hostile")
	var mu sync.Mutex
	var opens []string
	defer isolate.SetNotifHook(func(name, p string) {
		if strings.HasPrefix(name, "open") {
			mu.Lock()
			opens = append(opens, name+" "+p)
			mu.Unlock()
		}
	})()
	for _, spare := range []bool{false, true} {
		mu.Lock()
		opens = nil
		mu.Unlock()
		l, iso := newLoader(t, loader.Options{}, isolate.Options{Spare: spare})
		if spare {
			if err := iso.Prestart(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { iso.Close(context.Background()) })
		}
		p, err := l.Load(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := strings.Join(opens, ", ")
		mu.Unlock()
		switch opened := strings.Contains(got, path); {
		case !spare && opened:
			t.Errorf("the child opened its plugin itself: %s", got)
		case spare && !opened:
			t.Errorf("spare: no open of the plugin seen (%q): the hook or the listener is not what this test assumes", got)
		}
		buf := make([]byte, 8)
		if !spare {
			if r, err := callBufs(context.Background(), p, "read_fd", [6]uint64{wire.PluginFD, 0, 8}, map[int][]byte{1: buf}); err != nil || int64(r) != -int64(unix.EBADF) {
				t.Errorf("read of descriptor %d in the plugin = %d, %v; want EBADF", wire.PluginFD, int64(r), err)
			}
		}
		if err := p.Close(context.Background()); err != nil {
			t.Error(err)
		}
	}
	l, _ := newLoader(t, loader.Options{}, isolate.Options{})
	if _, err := l.Load(context.Background(), path+".missing"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("load of a missing file: %v", err)
	}
}
