package loader_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/runplug/runplug/loader"
)

// Load a plugin, call one of its functions and close it.
func Example() {
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())

	p, err := l.Load(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		return
	}
	add3, err := p.Func("add3")
	if err != nil {
		fmt.Println(err)
		return
	}
	sum, err := add3.Call(1, 2, 3)
	fmt.Println(p.Name(), sum, err)
	fmt.Println(p.Close(context.Background()))
	// Output:
	// basic.so 6 <nil>
	// <nil>
}

// Two loads of one file are independent instances: each has its own data.
func ExampleLoader_Load() {
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	a, _ := l.Load(context.Background(), path)
	b, _ := l.Load(context.Background(), path)
	bumpA, _ := a.Func("bump")
	bumpB, _ := b.Func("bump")
	bumpA.Call()
	n, _ := bumpA.Call()
	m, _ := bumpB.Call()
	fmt.Println(n, m)
	// Output: 44 43
}

// Pass and return doubles.
func ExampleFunc_CallFloat() {
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, _ := l.Load(context.Background(), path)
	scale, _ := p.Func("scale")
	x, err := scale.CallFloat(nil, []float64{2.5, 4})
	fmt.Println(x, err)
	// Output: 10 <nil>
}

// Lookup tells a missing symbol apart with errors.Is.
func ExamplePlugin_Lookup() {
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, _ := l.Load(context.Background(), path)
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
	path, err := buildPlugin("basic")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, _ := l.Load(context.Background(), path)
	add, _ := p.Func("add")
	p.Close(context.Background())
	_, err = add.Call(1, 2)
	fmt.Println(errors.Is(err, loader.ErrClosed))
	// Output: true
}

// buildPlugin compiles ../plugins/NAME.c into a shared object in a temporary
// directory, as a host's own build would compile its plugins, and returns
// its path. (Copying the example: load your plugin's .so instead.)
func buildPlugin(name string) (string, error) {
	built.Lock()
	defer built.Unlock()
	if p, ok := built.paths[name]; ok {
		return p, nil
	}
	dir, err := os.MkdirTemp("", "runplug-example-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, name+".so")
	cmd := exec.Command("cc", "-shared", "-fPIC", "-O2", "-pthread", "-o", out, filepath.Join("..", "plugins", name+".c"))
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cc %s.c: %v: %s", name, err, msg)
	}
	built.paths[name] = out
	return out, nil
}

var built = struct {
	sync.Mutex
	paths map[string]string
}{paths: map[string]string{}}
