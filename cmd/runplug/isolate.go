package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// `runplug call --isolate` and `runplug demo --isolate`: the plugin runs
// in a confined child process (package isolate); this binary is the child
// too (isolate's init serves it), so there is nothing else to install.

const isolateUsage = "run the plugin in a confined child process (seccomp, namespaces, limits)"

// isolation returns the Isolation for --isolate (nil without it): the
// child's output goes to the command's.
func isolation(on bool, logger hclog.Logger, stdout, stderr io.Writer) wire.Isolation {
	if !on {
		return nil
	}
	return isolate.New(isolate.Options{Logger: logger, Stdout: stdout, Stderr: stderr})
}

// isolatedTexts makes the s:TEXT values of an isolated call Go strings,
// which CallSig copies into the memory the child shares (host C memory is
// out of its reach).
func isolatedTexts(ca *callArgs, vals []any) {
	for i, a := range ca.Args {
		if a.Kind == 's' {
			vals[i] = a.Text
		}
	}
}

// demoIsolated is the demo's isolated part: the same embedded plugin in a
// child process.
func demoIsolated(ctx context.Context, w io.Writer, logger hclog.Logger) error {
	// Where the kernel refuses the namespaces the demo still runs, and
	// prints what is missing below (never silent).
	iso := isolate.New(isolate.Options{Logger: logger, Policy: isolate.Policy{NamespaceFallback: true}})
	l := loader.New(loader.Options{Logger: logger, Isolation: iso})
	defer l.Close(context.Background())
	p, err := l.LoadBytes(context.Background(), demoName, demoSO)
	if err != nil {
		return err
	}
	pid := isolate.Pid(p)
	rep := iso.Report()
	fmt.Fprintf(w, "\n5. isolate: the same plugin in a child process (pid %d), this binary re-executed\n", pid)
	fmt.Fprintf(w, "   confinement: seccomp filter %v, new namespaces %v", rep.Seccomp, rep.Namespaces)
	for _, m := range rep.Missing {
		fmt.Fprintf(w, ", missing: %s", m)
	}
	fmt.Fprintln(w)
	c := &caller{ctx: ctx, p: p}
	f, err := p.Func("vowels")
	if err != nil {
		return err
	}
	vowels, err := loader.Bind1[string, int64](f)
	if err != nil {
		return err
	}
	f90 := c.int("fib", 90)
	if c.err != nil {
		return c.err
	}
	nv, err := vowels(context.Background(), demoText)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   fib(90) = %d, vowels(%q) = %d (the string crossed in shared memory)\n", f90, demoText, nv)
	crash, err := p.Func("crash")
	if err != nil {
		return err
	}
	_, err = crash.Call(ctx)
	var fe *loader.FaultError
	if !errors.As(err, &fe) {
		return fmt.Errorf("isolated crash() returned %v, want a trapped fault", err)
	}
	fmt.Fprintf(w, "   crash() in the child: %s\n", fe)
	if err := p.Restart(context.Background()); err != nil {
		return err
	}
	f10 := c.int("fib", 10)
	if c.err != nil {
		return c.err
	}
	fmt.Fprintf(w, "   restarted (pid %d): fib(10) = %d\n", isolate.Pid(p), f10)
	if err := p.Close(context.Background()); err != nil {
		return err
	}
	fmt.Fprintf(w, "   closed: the child process is gone (reaped)\n")
	return nil
}
