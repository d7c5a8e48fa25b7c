//go:build amd64

// These examples need callbacks into Go or the general call, not yet
// ported to linux/arm64 (issue 24), and an example cannot skip: amd64
// only until they are.

package loader_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/loader"
)

// Register Go functions that a plugin imports by C name, then call the
// plugin: it calls back into Go on the same thread.
func ExampleLoader_RegisterHostFunc() {
	ctx := context.Background()
	path, err := buildPlugin("host_calls")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx) // also releases the registrations

	fns := map[string]any{
		"host_add":     func(a, b int64) int64 { return a + b },          // typed
		"host_half":    func(x float32) float32 { return x / 2 },         // float32 in, float32 out
		"host_strlen":  func(s string) int32 { return int32(len(s)) },    // const char * in
		"host_note":    func(v int16) { fmt.Println("plugin noted", v) }, // no result
		"host_mix":     func(x float64, f float32, n int32, s int8) float64 { return 0 },
		"host_reenter": func(x int64) int64 { return x },
		"host_panic":   func(x int64) int64 { panic(fmt.Sprintf("refusing %d", x)) },
		"host_raw": func(a *pcall.Args) pcall.Result { // raw registers, no reflect
			return pcall.Result{Int: a.Int[0] * 2}
		},
	}
	for name, fn := range fns {
		if _, err := l.RegisterHostFunc(name, fn); err != nil {
			fmt.Println(err)
			return
		}
	}
	p, err := l.Load(ctx, path)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, _ := p.Func("call_add")
	callAdd, _ := loader.Bind2[int64, int64, int64](f) // host_add(a, b) + 1
	fmt.Println(callAdd(ctx, 40, 1))
	f, _ = p.Func("call_note")
	callNote, _ := loader.Bind1[int16, int64](f)
	fmt.Println(callNote(ctx, -3))

	// A panic in a host function ends the plugin call with an error and
	// quarantines the plugin; the host carries on.
	f, _ = p.Func("call_panic")
	callPanic, _ := loader.Bind1[int64, int64](f)
	_, err = callPanic(ctx, 9)
	var hp *loader.HostPanicError
	fmt.Println(errors.As(err, &hp), hp.Func, hp.Value)
	fmt.Println(p.Quarantined())
	// Output:
	// 42 <nil>
	// plugin noted -3
	// 7 <nil>
	// true host_panic refusing 9
	// true
}
