package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/runplug/runplug/loader"
	"github.com/runplug/runplug/sandbox"
)

// dirList is a repeatable -L flag.
type dirList []string

func (d *dirList) String() string { return strings.Join(*d, ":") }

func (d *dirList) Set(v string) error {
	if v == "" {
		return errors.New("empty directory")
	}
	*d = append(*d, v)
	return nil
}

// runCall is `runplug call`: load FILE with runplug's loader, call SYMBOL
// with the ARGs and print the result on one line.
func runCall(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("call")
	ret := fs.String("ret", "int", "result type: int, uint, hex, double, str or void")
	var dirs dirList
	fs.Var(&dirs, "L", "a directory to search for needed libraries (repeatable)")
	logger, err := parseFlags(fs, level, args, stdout, stderr)
	if err != nil {
		return flagExit(err)
	}
	if !slices.Contains(retKinds, *ret) {
		return usageError(stderr, "call", fmt.Sprintf("--ret %q: want one of %s", *ret, strings.Join(retKinds, ", ")))
	}
	if fs.NArg() < 2 {
		return usageError(stderr, "call", "want FILE SYMBOL [ARG...]")
	}
	path, symbol := fs.Arg(0), fs.Arg(1)
	ca, err := parseCallArgs(fs.Args()[2:])
	if err != nil {
		return usageError(stderr, "call", err.Error())
	}

	l := loader.New(loader.Options{Logger: logger, SearchPath: dirs})
	defer l.Close()
	if err := registerBuiltins(l, stderr); err != nil {
		return fail(stderr, fmt.Errorf("call %s: %w", path, err))
	}
	p, err := l.Load(objectArg(path))
	if err != nil {
		return callFailed(stderr, fmt.Sprintf("call %s: load", path), err)
	}
	fn, err := p.Func(symbol)
	if err != nil {
		return fail(stderr, fmt.Errorf("call %s %s: %w", path, symbol, err))
	}
	strs, addrs, err := newCStrings(ca.Texts)
	if err != nil {
		return fail(stderr, fmt.Errorf("call %s %s: %w", path, symbol, err))
	}
	defer strs.free()
	var a sandbox.Args
	copy(a.Int[:], ca.Int)
	copy(a.Float[:], ca.Float)
	for i, slot := range ca.StrSlot {
		a.Int[slot] = addrs[i]
	}
	logger.Debug("calling", "plugin", p.Name(), "symbol", symbol, "addr", fmt.Sprintf("%#x", fn.Addr()))
	r, err := fn.CallArgs(nil, &a)
	if err != nil {
		return callFailed(stderr, fmt.Sprintf("call %s %s", path, symbol), err)
	}
	out, err := formatResult(*ret, r.Int, r.Float)
	if err != nil {
		return fail(stderr, fmt.Errorf("call %s %s: result: %w", path, symbol, err))
	}
	if *ret != "void" {
		fmt.Fprintln(stdout, out)
	}
	if err := l.Close(); err != nil {
		return fail(stderr, fmt.Errorf("call %s: unload: %w", path, err))
	}
	return exitOK
}

// callFailed reports the error of a load or a call: a fault of the plugin's
// code (in the call, or in a constructor during the load) gets exit status
// 3 and a fault report, anything else exit status 1. Both are one line.
func callFailed(stderr io.Writer, what string, err error) int {
	var fe *sandbox.FaultError
	if errors.As(err, &fe) {
		fmt.Fprintf(stderr, "runplug: %s: plugin faulted: %s\n", what, oneLine(faultReport(fe)))
		return exitFault
	}
	return fail(stderr, fmt.Errorf("%s: %w", what, err))
}

// faultReport describes a trapped fault: the signal, what the faulting
// address is, where the PC was (symbol+offset) and in which plugin.
func faultReport(fe *sandbox.FaultError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", sandbox.SignalName(fe.Signal), sandbox.CodeName(fe.Signal, fe.Code))
	if fe.Where != "" {
		fmt.Fprintf(&b, " at %#x: %s", fe.Addr, fe.Where)
	}
	fmt.Fprintf(&b, "; pc %#x", fe.PC)
	if fe.Symbol != "" {
		fmt.Fprintf(&b, " (%s)", fe.Symbol)
	}
	switch {
	case fe.Plugin != "":
		fmt.Fprintf(&b, " in plugin %s", fe.Plugin)
	case fe.Object != "":
		fmt.Fprintf(&b, " in %s", fe.Object)
	}
	return b.String()
}
