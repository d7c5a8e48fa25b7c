// Command dbghost is the host program that loader's debugger test runs
// under gdb: it loads the plugin named by its argument (plugins/dbg_fn.c),
// calls dbg_entry, closes the plugin and then calls afterClose, where the
// test's script asks gdb for the shared library list again.
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
	l := loader.New(loader.Options{})
	defer l.Close()
	p, err := l.Load(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbghost:", err)
		os.Exit(1)
	}
	f, err := p.Func("dbg_entry")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbghost:", err)
		os.Exit(1)
	}
	r, err := f.Call(20)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbghost:", err)
		os.Exit(1)
	}
	fmt.Println("dbg_entry(20) =", int64(r))
	if err := p.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "dbghost:", err)
		os.Exit(1)
	}
	afterClose()
}

// afterClose is where gdb stops once the plugin is closed.
//
//go:noinline
func afterClose() { fmt.Println("closed") }
