// Command dbghost is the host program that loader's debugger test runs
// under gdb: it loads two instances of the plugin named by its argument
// (plugins/dbg_fn.c), calls dbg_entry in each, then closes them one by
// one, calling afterClose after each Close, where the test's script asks
// gdb for the shared library list again. Last it loads the plugin once
// more, into the parked image of the second instance (its tombstone
// budget is set for that), where gdb had written a breakpoint, and calls
// it again.
package main

import (
	"context"
	"debug/elf"
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
	size, err := imageSize(path)
	if err != nil {
		return err
	}
	// Room for one closed image (and not two): closing the second
	// instance releases the first, and the next load reuses the second.
	l := loader.New(loader.Options{TombstoneBudget: size + size/2})
	defer l.Close(context.Background())
	var ps []*loader.Plugin
	for i := 0; i < 2; i++ {
		p, err := l.Load(context.Background(), path)
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		if err := call(i, p); err != nil {
			return err
		}
	}
	for i, p := range ps {
		if err := p.Close(context.Background()); err != nil {
			return err
		}
		afterClose(i)
	}
	p, err := l.Load(context.Background(), path)
	if err != nil {
		return err
	}
	fmt.Println("reused:", p.Base() == ps[1].Base())
	if err := call(2, p); err != nil {
		return err
	}
	afterClose(2)
	return p.Close(context.Background())
}

func call(i int, p *loader.Plugin) error {
	f, err := p.Func("dbg_entry")
	if err != nil {
		return err
	}
	r, err := f.Call(20)
	if err != nil {
		return err
	}
	fmt.Printf("instance %d: dbg_entry(20) = %d\n", i, int64(r))
	return nil
}

// imageSize returns the size runplug reserves for the object at path: its
// PT_LOAD span in pages and a guard page on each side.
func imageSize(path string) (uint64, error) {
	f, err := elf.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	const page = 4096
	lo, hi := ^uint64(0), uint64(0)
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			lo, hi = min(lo, p.Vaddr), max(hi, p.Vaddr+p.Memsz)
		}
	}
	return (hi+page-1)/page*page - lo/page*page + 2*page, nil
}

// afterClose is where gdb stops once a plugin instance is closed, and
// after the last call.
//
//go:noinline
func afterClose(i int) { fmt.Println("closed instance", i) }
