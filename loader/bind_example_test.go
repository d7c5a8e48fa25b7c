//go:build amd64

// These examples need callbacks into Go or the general call, not yet
// ported to linux/arm64 (issue 24), and an example cannot skip: amd64
// only until they are.

package loader_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/runplug/runplug/loader"
)

// Bind a plugin function to a typed Go function: arguments and results are
// converted by type, the signature is checked once, here.
func ExampleBind2() {
	ctx := context.Background()
	path, err := buildPlugin("host_types")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, err := l.Load(ctx, path)
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := p.Func("mulf")
	if err != nil {
		fmt.Println(err)
		return
	}
	mulf, err := loader.Bind2[float32, float32, float32](f) // float mulf(float, float)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mulf(ctx, 1.5, -4))

	f, err = p.Func("str_cmp")
	if err != nil {
		fmt.Println(err)
		return
	}
	strCmp, err := loader.Bind2[string, string, int32](f) // int32_t str_cmp(const char *, const char *)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := strCmp(ctx, "runplug", "runplug")
	fmt.Println(c, err)

	// An unsupported signature is refused at bind time.
	f, _ = p.Func("str_len")
	_, err = loader.Bind1[map[string]int, int32](f)
	fmt.Println(errors.Is(err, loader.ErrSignature))

	// A fault in the plugin is the call's error.
	f, _ = p.Func("crash_null")
	crash, _ := loader.Bind1[int32, int32](f)
	_, err = crash(ctx, 1)
	var fe *loader.FaultError
	fmt.Println(errors.As(err, &fe), fe.Symbol[:len("crash_null")])
	// Output:
	// -6 <nil>
	// 0 <nil>
	// true
	// true crash_null
}

// Bind with reflect, for any signature the typed bindings take, when the
// func type is only known at run time.
func ExampleBind() {
	ctx := context.Background()
	path, err := buildPlugin("host_types")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, err := l.Load(ctx, path)
	if err != nil {
		fmt.Println(err)
		return
	}
	var store func(context.Context, int64) error
	var load func(context.Context) (int64, error)
	for name, fnPtr := range map[string]any{"store": &store, "load": &load} {
		f, err := p.Func(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := loader.Bind(f, fnPtr); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(store(ctx, -7))
	fmt.Println(load(ctx))
	// Output:
	// <nil>
	// -7 <nil>
}
