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
	add := fnOf(t, p, "add")
	add2, err := Bind2[int64, int64, int64](add)
	if err != nil {
		t.Fatal(err)
	}
	var addReflect func(context.Context, int64, int64) (int64, error)
	if err := Bind(add, &addReflect); err != nil {
		t.Fatal(err)
	}
	sig, err := ParseSignature("int64_t add(int64_t, int64_t)")
	if err != nil {
		t.Fatal(err)
	}
	addSig, err := p.FuncSig("add", sig)
	if err != nil {
		t.Fatal(err)
	}
	liveAdd, err := lv.Func("add")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		do   func()
	}{
		{"Func.Call", func() { add.Call(nilCtx, 1, 2) }},
		{"Func.CallSig", func() { addSig.CallSig(nilCtx, nil, 1, 2) }},
		{"Bind2's function", func() { add2(nilCtx, 1, 2) }},
		{"Bind's function", func() { addReflect(nilCtx, 1, 2) }},
		{"Live.Func's Call", func() { liveAdd.Call(nilCtx, 1, 2) }},
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
