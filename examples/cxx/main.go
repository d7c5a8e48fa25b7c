// Command cxx is the example host of a C++ plugin: it loads
// plugin/shapes.cpp (built by its Build line), which uses C++ exceptions
// internally, and asks it for the area of each shape given on the
// command line. The plugin reports bad input through a host function.
//
// Usage:
//
//	cxx PLUGIN.so SPEC...
//
// where SPEC is "circle R" or "rect W H".
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/runplug/runplug/loader"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: cxx PLUGIN.so SPEC...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cxx:", err)
		os.Exit(1)
	}
}

// run loads the plugin at path and prints the area of each spec to w.
func run(path string, specs []string, w io.Writer) error {
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())
	var lastErr string
	// void report_error(const char *msg): called by the plugin on the
	// calling goroutine, during area_milli.
	if _, err := l.RegisterHostFunc("report_error", func(msg string) { lastErr = msg }); err != nil {
		return err
	}
	// The plugin's own dependencies, libstdc++ and libgcc_s, are loaded by
	// runplug alongside it.
	p, err := l.Load(context.Background(), path)
	if err != nil {
		return err
	}
	area, err := loader.Bind1[string, int64](p, "area_milli")
	if err != nil {
		return err
	}
	for _, spec := range specs {
		lastErr = ""
		a, err := area(spec)
		if err != nil {
			return err // a fault or an exception that escaped: the plugin is quarantined
		}
		if a < 0 {
			fmt.Fprintf(w, "%s: error: %s\n", spec, lastErr)
			continue
		}
		fmt.Fprintf(w, "%s: %d.%03d\n", spec, a/1000, a%1000)
	}
	return p.Close(context.Background())
}
