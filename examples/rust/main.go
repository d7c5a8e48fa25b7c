// Command rust is the example host of a Rust plugin: it loads
// plugin/checked.rs (a cdylib built by its Build line), whose functions
// catch their own panics with std::panic::catch_unwind, and calls them
// with each list of integers given on the command line. Finally it calls
// a function whose panic is not caught: that call fails with an error,
// and the host carries on.
//
// Usage:
//
//	rust PLUGIN.so LIST...
//
// where LIST is comma-separated integers, e.g. "1,2,3".
package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/runplug/runplug/loader"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: rust PLUGIN.so LIST...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rust:", err)
		os.Exit(1)
	}
}

// run loads the plugin at path and prints what it makes of lists to w.
func run(path string, lists []string, w io.Writer) error {
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	p, err := l.Load(context.Background(), path)
	if err != nil {
		return err
	}
	sum, err := loader.Bind1[string, int64](p, "sum_list")
	if err != nil {
		return err
	}
	div, err := loader.Bind2[int64, int64, int64](p, "checked_div")
	if err != nil {
		return err
	}
	for _, list := range lists {
		s, err := sum(list)
		if err != nil {
			return err
		}
		if s == -1 {
			fmt.Fprintf(w, "%q: not a list of integers\n", list)
			continue
		}
		q, err := div(s, int64(len(list)))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%q: sum %d, sum/len %d\n", list, s, q)
	}
	q, err := div(1, 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "1/0 caught: %v\n", q == math.MinInt64)

	panics, err := loader.Bind0[int64](p, "always_panics")
	if err != nil {
		return err
	}
	if _, err := panics(); err != nil {
		fmt.Fprintf(w, "always_panics failed, quarantined: %v\n", p.Quarantined())
	}
	return p.Close(context.Background())
}
