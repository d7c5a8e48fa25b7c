package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"

	"github.com/runplug/runplug/elfmap"
)

// demoSO is plugins/demo.c compiled with the hash of its source (see
// demo/gen.go); a test checks that the two agree.
//
//go:generate go run ./demo/gen.go
//go:embed demo/demo.so
var demoSO []byte

// demoName is the name the embedded plugin is shown and loaded under.
const demoName = "demo.so"

// runDemo is `runplug` with no arguments (or `runplug demo`).
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("demo")
	logger, err := parseFlags(fs, level, args, stdout, stderr)
	if err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 0 {
		return usageError(stderr, "demo", "takes no arguments")
	}
	logger.Debug("demo", "plugin", demoName, "bytes", len(demoSO))

	f, err := elfmap.Parse(bytes.NewReader(demoSO), int64(len(demoSO)))
	if err != nil {
		return fail(stderr, fmt.Errorf("demo: parse %s: %w", demoName, err))
	}
	rep, err := buildReport(demoName, f, elfmap.PlanOptions{})
	if err != nil {
		return fail(stderr, fmt.Errorf("demo: plan %s: %w", demoName, err))
	}
	fmt.Fprintf(stdout, "runplug demo: the example plugin plugins/demo.c, embedded in this binary (%d bytes)\n\n", len(demoSO))
	fmt.Fprintf(stdout, "1. parse and plan (runplug inspect %s shows all of it)\n", demoName)
	printDemoPlan(stdout, rep)
	fmt.Fprintf(stdout, "\nexports: ")
	for i, e := range rep.Exports {
		if i > 0 {
			fmt.Fprint(stdout, ", ")
		}
		fmt.Fprintf(stdout, "%s (%s)", e.Name, e.Kind)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "\nloading, calling and unloading come with runplug's loader, which is not there yet.")
	return exitOK
}

// printDemoPlan prints the LOAD segments and the mapping plan of rep.
func printDemoPlan(w io.Writer, rep *Report) {
	fmt.Fprintln(w, "   segments:")
	for _, s := range rep.Segments {
		if s.Type != "LOAD" {
			continue
		}
		fmt.Fprintf(w, "     LOAD %s vaddr %#06x filesz %#06x memsz %#06x\n", s.Flags, s.Vaddr, s.Filesz, s.Memsz)
	}
	fmt.Fprintf(w, "   mapping plan (relative to the load base, %d-byte pages):\n", rep.Header.PageSize)
	for _, r := range rep.Mapping {
		fmt.Fprintf(w, "     [%8s, %8s) %s %s\n", signedHex(r.Start), signedHex(r.End), r.Prot, regionLabel(r))
	}
}
