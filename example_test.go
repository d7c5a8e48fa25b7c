package runplug_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/loader"
)

// Example loads a plugin (plugins/basic.c, compiled for the example),
// calls an integer and a double function, and closes it.
func Example() {
	path, err := buildPlugin("basic")
	if err != nil {
		log.Fatal(err)
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())

	p, err := l.Load(context.Background(), path)
	if err != nil {
		log.Fatal(err)
	}
	add, err := p.Func("add")
	if err != nil {
		log.Fatal(err)
	}
	sum, err := add.Call(40, 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("add(40, 2) =", int64(sum))

	scale, err := p.Func("scale")
	if err != nil {
		log.Fatal(err)
	}
	prod, err := scale.CallFloat(nil, []float64{1.5, 4})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("scale(1.5, 4) =", prod)

	if err := p.Close(context.Background()); err != nil {
		log.Fatal(err)
	}
	_, err = add.Call(1, 2)
	fmt.Println("after Close:", errors.Is(err, loader.ErrClosed))
	// Output:
	// add(40, 2) = 42
	// scale(1.5, 4) = 6
	// after Close: true
}

// Example_fault shows a plugin crash becoming an error: the host learns the
// signal, what the address was and where the plugin was, and carries on.
func Example_fault() {
	path, err := buildPlugin("demo")
	if err != nil {
		log.Fatal(err)
	}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), path)
	if err != nil {
		log.Fatal(err)
	}
	crash, err := p.Func("crash") // writes through a NULL pointer
	if err != nil {
		log.Fatal(err)
	}
	_, err = crash.Call()
	var fe *loader.FaultError
	if errors.As(err, &fe) {
		fmt.Println(pcall.SignalName(fe.Signal), "at", fe.Addr, "("+fe.Where+") in", fe.Plugin)
	}
	fmt.Println("quarantined:", p.Quarantined())
	// Output:
	// SIGSEGV at 0 (not mapped) in demo.so
	// quarantined: true
}

// buildPlugin compiles plugins/NAME.c into a shared object in a temporary
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
	cmd := exec.Command("cc", "-shared", "-fPIC", "-O2", "-pthread", "-o", out, filepath.Join("plugins", name+".c"))
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
