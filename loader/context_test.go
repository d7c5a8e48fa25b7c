package loader

import (
	"context"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// TestNilContextPanics: a nil context is a programming error, and every
// method taking one panics with a message that says so (not a nil
// dereference somewhere deeper, not an error that a caller might ignore).
func TestNilContextPanics(t *testing.T) {
	l := newLoader(t, Options{})
	path := plugintest.Build(t, "basic")
	p := load(t, l, "basic")
	lv, err := l.LoadLive(context.Background(), path, LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close(context.Background())
	var nilCtx context.Context
	for _, tc := range []struct {
		name string
		do   func()
	}{
		{"Loader.Load", func() { l.Load(nilCtx, path) }},
		{"Loader.LoadBytes", func() { l.LoadBytes(nilCtx, "basic", nil) }},
		{"Loader.LoadWith", func() { l.LoadWith(nilCtx, path, LoadOptions{}) }},
		{"Loader.LoadLive", func() { l.LoadLive(nilCtx, path, LiveOptions{}) }},
		{"Live.Reload", func() { lv.Reload(nilCtx) }},
		{"Live.Close", func() { lv.Close(nilCtx) }},
		{"Plugin.Restart", func() { p.Restart(nilCtx) }},
		{"Plugin.Close", func() { p.Close(nilCtx) }},
		{"Loader.Close", func() { l.Close(nilCtx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, "nil context") {
					t.Errorf("%s(nil ctx): recovered %v, want a panic naming the nil context", tc.name, r)
				}
			}()
			tc.do()
		})
	}
	// The panics left everything open and usable.
	if got := call(t, p, "add", 2, 3); got != 5 {
		t.Errorf("add(2, 3) after the panics = %d, want 5", got)
	}
}
