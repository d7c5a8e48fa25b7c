// Command dbghost is the host program that loader's debugger test runs
// under gdb: it loads two instances of the plugin named by its argument
// (plugins/dbg_fn.c), calls dbg_entry in each, then closes them one by
// one, calling afterClose after each Close, where the test's script asks
// gdb for the shared library list again.
package main

import (
	"fmt"
	"os"

	"github.com/runplug/runplug/loader"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dbghost PLUGIN.so")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "dbghost:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	l := loader.New(loader.Options{})
	defer l.Close()
	var ps []*loader.Plugin
	for i := 0; i < 2; i++ {
		p, err := l.Load(path)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		f, err := p.Func("dbg_entry")
		if err != nil {
			return err
		}
		r, err := f.Call(20)
		if err != nil {
			return err
		}
		fmt.Printf("instance %d: dbg_entry(20) = %d\n", i, int64(r))
	}
	for i, p := range ps {
		if err := p.Close(); err != nil {
			return err
		}
		afterClose(i)
	}
	return nil
}

// afterClose is where gdb stops once a plugin instance is closed.
//
//go:noinline
func afterClose(i int) { fmt.Println("closed instance", i) }
