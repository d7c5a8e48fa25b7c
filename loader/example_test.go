package loader_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// Load a plugin, call one of its functions and close it.
func Example() {
	ctx := context.Background()
	path, err := buildPlugin("basic")
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
	add3, err := p.Func("add3")
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := add3.Call(ctx, 1, 2, 3)
	fmt.Println(p.Name(), sum, err)
	fmt.Println(p.Close(ctx))
	// Output:
	// basic.so 6 <nil>
	// <nil>
}

// Two loads of one file are independent instances: each has its own data.
func ExampleLoader_Load() {
	ctx := context.Background()
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	a, _ := l.Load(ctx, path)
	b, _ := l.Load(ctx, path)
	bumpA, _ := a.Func("bump")
	bumpB, _ := b.Func("bump")
	bumpA.Call(ctx)
	n, _ := bumpA.Call(ctx)
	m, _ := bumpB.Call(ctx)
	fmt.Println(n, m)
	// Output: 44 43
}

// Lookup tells a missing symbol apart with errors.Is.
func ExamplePlugin_Lookup() {
	ctx := context.Background()
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, _ := l.Load(ctx, path)
	s, err := p.Lookup("basic_counter")
	fmt.Println(s.Name, s.Size, s.Func, err)
	_, err = p.Lookup("nope")
	fmt.Println(errors.Is(err, loader.ErrSymbolNotFound))
	// Output:
	// basic_counter 8 false <nil>
	// true
}

// A closed plugin refuses further calls.
func ExamplePlugin_Close() {
	ctx := context.Background()
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, _ := l.Load(ctx, path)
	add, _ := p.Func("add")
	p.Close(ctx)
	_, err = add.Call(ctx, 1, 2)
	fmt.Println(errors.Is(err, loader.ErrClosed))
	// Output: true
}

// buildPlugin compiles ../plugins/NAME.c into a shared object with the
// command of its Build line, as a host's own build would compile its
// plugins (with the cross compiler when the tests are cross-built), and
// returns its path. (Copying the example: load your plugin's .so instead.)
func buildPlugin(name string) (string, error) { return plugintest.BuildErr(name) }
