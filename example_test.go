package runplug_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/loader"
)

// Example loads a plugin (plugins/basic.c, compiled for the example),
// calls an integer and a double function, and closes it.
func Example() {
	ctx := context.Background()
	path, err := buildPlugin("basic")
	if err != nil {
		log.Fatal(err)
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)

	p, err := l.Load(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	add, err := p.Func("add")
	if err != nil {
		log.Fatal(err)
	}
	sum, err := add.Call(ctx, 40, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("add(40, 2) =", int64(sum))

	f, err := p.Func("scale")
	if err != nil {
		log.Fatal(err)
	}
	scale, err := loader.Bind2[float64, float64, float64](f) // double scale(double, double)
	if err != nil {
		log.Fatal(err)
	}
	prod, err := scale(ctx, 1.5, 4)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("scale(1.5, 4) =", prod)

	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = add.Call(ctx, 1, 2)
	fmt.Println("after Close:", errors.Is(err, loader.ErrClosed))
	// Output:
	// add(40, 2) = 42
	// scale(1.5, 4) = 6
	// after Close: true
}

// Example_fault shows a plugin crash becoming an error: the host learns the
// signal, what the address was and where the plugin was, and carries on.
func Example_fault() {
	ctx := context.Background()
	path, err := buildPlugin("demo")
	if err != nil {
		log.Fatal(err)
	}
	l := loader.New(loader.Options{})
	defer l.Close(ctx)
	p, err := l.Load(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	crash, err := p.Func("crash") // writes through a NULL pointer
	if err != nil {
		log.Fatal(err)
	}
	_, err = crash.Call(ctx)
	var fe *loader.FaultError
	if errors.As(err, &fe) {
		fmt.Println(pcall.SignalName(fe.Signal), "at", fe.Addr, "("+fe.Where+") in", fe.Plugin)
	}
	fmt.Println("quarantined:", p.Quarantined())
	// Output:
	// SIGSEGV at 0 (not mapped) in demo.so
	// quarantined: true
}

// buildPlugin compiles plugins/NAME.c into a shared object with the
// command of its Build line, as a host's own build would compile its
// plugins (with the cross compiler when the tests are cross-built), and
// returns its path. (Copying the example: load your plugin's .so instead.)
func buildPlugin(name string) (string, error) { return plugintest.BuildErr(name) }
