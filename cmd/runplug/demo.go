package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/sysmaps"
	"github.com/runplug/runplug/loader"
)

// demoSO is plugins/demo.c compiled with the hash of its source (see
// demo/gen.go); a test checks that the two agree.
//
//go:generate go run ./demo/gen.go
//go:embed demo/demo.so
var demoSO []byte

// demoName is the name the embedded plugin is loaded under.
const demoName = "demo.so"

// demoText is the string argument the demo passes to vowels.
const demoText = "runplug loads plugins without dlopen"

var demoCommand = command{
	name:    "demo",
	summary: "load the example plugin embedded in runplug, call it, let it crash, unload it",
	native:  true,
	details: `The plugin is plugins/demo.c. Each step is checked: the demo fails (exit
status 1, one line on standard error) when one does not behave as shown.

Exit status: 0 success, 1 an error, 2 a usage error.
`,
	run: runDemo,
}

// runDemo is `runplug` with no arguments (or `runplug demo`): load the
// embedded plugin, show its mapping, call it, let it crash, unload it.
func runDemo(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("demo")
	isolated := fs.Bool("isolate", false, isolateUsage) // isolate.go
	timeout := fs.Duration("timeout", 10*time.Second, "stop each call into the plugin after `DURATION` (0: no limit)")
	logger, err := parseFlags(fs, level, args, stdout, stderr)
	if err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 0 {
		return usageError(stderr, "demo", "takes no arguments")
	}
	ctx := context.Background()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	if err := demo(ctx, stdout, logger); err != nil {
		return fail(stderr, fmt.Errorf("demo: %w", err))
	}
	if err := demoReload(ctx, stdout, logger); err != nil { // demo_live.go
		return fail(stderr, fmt.Errorf("demo: reload: %w", err))
	}
	if *isolated {
		if err := demoIsolated(ctx, stdout, logger); err != nil {
			return fail(stderr, fmt.Errorf("demo: isolate: %w", err))
		}
	}
	return exitOK
}

// demo writes the demo to w. Any step that does not behave as shown is an
// error.
func demo(ctx context.Context, w io.Writer, logger hclog.Logger) error {
	f, err := elfimage.Parse(bytes.NewReader(demoSO), int64(len(demoSO)))
	if err != nil {
		return fmt.Errorf("parse %s: %w", demoName, err)
	}
	rep, err := buildReport(demoName, f, bytes.NewReader(demoSO), elfimage.PlanOptions{})
	if err != nil {
		return fmt.Errorf("plan %s: %w", demoName, err)
	}
	fmt.Fprintf(w, "runplug demo: plugins/demo.c, embedded in this binary (%d bytes), loaded by runplug's own loader (no dlopen)\n", len(demoSO))

	l := loader.New(loader.Options{Logger: logger})
	defer l.Close(context.Background())
	p1, err := l.LoadBytes(context.Background(), demoName, demoSO)
	if err != nil {
		return err
	}
	base := p1.Base()
	lo, hi := base+uintptr(rep.Mapping[0].Start), base+uintptr(rep.Mapping[len(rep.Mapping)-1].End)
	fmt.Fprintf(w, "\n1. load: %s mapped at %#x with a guard page on each side; /proc/self/maps shows\n", demoName, base)
	if err := printMaps(w, rep, base, lo, hi, false); err != nil {
		return err
	}
	for _, s := range rep.Segments {
		if s.Type == "GNU_RELRO" {
			fmt.Fprintf(w, "   (GNU_RELRO [%#x, %#x) was made read-only after relocation)\n", s.Vaddr, s.Vaddr+s.Memsz)
		}
	}

	fmt.Fprintf(w, "\n2. call (arguments in registers, results back as Go values)\n")
	c := &caller{ctx: ctx, p: p1}
	greeting := c.str("demo_greeting")
	fib := c.int("fib", 90)
	norm := c.double("norm2", 3, 4)
	vowels := c.strArg("vowels", demoText)
	n1, n2 := c.int("next"), c.int("next")
	if c.err != nil {
		return c.err
	}
	fmt.Fprintf(w, "   demo_greeting()        = %q\n", greeting)
	fmt.Fprintf(w, "   fib(90)                = %d\n", fib)
	fmt.Fprintf(w, "   norm2(3.0, 4.0)        = %g\n", norm)
	fmt.Fprintf(w, "   vowels(%q) = %d\n", demoText, vowels)
	fmt.Fprintf(w, "   next(), next()         = %d, %d (its constructor started the counter at 100)\n", n1, n2)
	p2, err := l.LoadBytes(context.Background(), demoName, demoSO)
	if err != nil {
		return err
	}
	c2 := &caller{ctx: ctx, p: p2}
	m1 := c2.int("next")
	if c2.err != nil {
		return c2.err
	}
	fmt.Fprintf(w, "   a second instance at %#x: next() = %d (its own data and .bss)\n", p2.Base(), m1)

	fmt.Fprintf(w, "\n3. fault: crash() writes through a NULL pointer\n")
	crash, err := p1.Func("crash")
	if err != nil {
		return err
	}
	_, err = crash.Call(ctx)
	var fe *loader.FaultError
	if !errors.As(err, &fe) {
		return fmt.Errorf("crash() returned %v, want a trapped fault", err)
	}
	fmt.Fprintf(w, "   trapped: %s\n", fe.Error())
	_, err = c.fn("next").Call(context.Background())
	if !errors.Is(err, loader.ErrQuarantined) {
		return fmt.Errorf("a call after the fault returned %v, want ErrQuarantined", err)
	}
	fmt.Fprintf(w, "   the host carries on: the crashed instance is quarantined:\n     next() -> %v\n", err)
	fmt.Fprintf(w, "   and the other instance still works: fib(10) = %d\n", c2.int("fib", 10))
	if c2.err != nil {
		return c2.err
	}

	fmt.Fprintf(w, "\n4. unload\n")
	fibAddr := c.fn("fib").Addr()
	if c.err != nil {
		return c.err
	}
	if err := p1.Close(context.Background()); err != nil {
		return err
	}
	fmt.Fprintf(w, "   the first instance is closed; its range stays reserved as a PROT_NONE tombstone:\n")
	if err := printMaps(w, rep, base, lo, hi, true); err != nil {
		return err
	}
	var a pcall.Args
	a.Int[0] = 10
	_, err = pcall.Call(fibAddr, &a)
	if !errors.As(err, &fe) {
		return fmt.Errorf("calling a stale pointer into the closed plugin returned %v, want a fault", err)
	}
	fmt.Fprintf(w, "   so a stale pointer to fib faults cleanly: %s\n", fe.Error())
	if err := l.Close(context.Background()); err != nil {
		return err
	}
	ms, err := sysmaps.Read()
	if err != nil {
		return err
	}
	// Another thread (the Go runtime's, say) may map something new into
	// the freed range at any moment: what must be gone is the tombstone.
	for _, m := range sysmaps.Overlapping(ms, lo, hi) {
		if m.Start <= lo && m.End >= hi && m.Perms == "---p" && m.Anonymous() {
			return fmt.Errorf("after Loader.Close the tombstone [%#x, %#x) is still mapped", m.Start, m.End)
		}
	}
	fmt.Fprintf(w, "   after Loader.Close: the tombstone [%#x, %#x) is unmapped\n", lo, hi)
	return nil
}

// printMaps prints the kernel's mappings in [lo, hi), cut at the regions
// of the plan (relative to base) and labelled with them; with tomb set,
// labelled "tombstone" instead.
func printMaps(w io.Writer, rep *Report, base, lo, hi uintptr, tomb bool) error {
	ms, err := sysmaps.Read()
	if err != nil {
		return err
	}
	for _, m := range sysmaps.Overlapping(ms, lo, hi) {
		if tomb {
			start, end := max(m.Start, lo), min(m.End, hi)
			fmt.Fprintf(w, "     %x-%x %s  %-16s %6d KiB\n", start, end, m.Perms, "tombstone", (end-start)>>10)
			continue
		}
		for _, r := range rep.Mapping {
			rs, re := base+uintptr(r.Start), base+uintptr(r.End)
			start, end := max(m.Start, lo, rs), min(m.End, hi, re)
			if start >= end {
				continue
			}
			fmt.Fprintf(w, "     %x-%x %s  %-16s %6d KiB\n", start, end, m.Perms, regionLabel(r), (end-start)>>10)
		}
	}
	return nil
}

// caller calls functions of a plugin, keeping the first error.
type caller struct {
	ctx context.Context // bounds every call (--timeout)
	p   *loader.Plugin
	err error
}

func (c *caller) fn(name string) *loader.Func {
	if c.err != nil {
		return nil
	}
	f, err := c.p.Func(name)
	if err != nil {
		c.err = err
	}
	return f
}

func (c *caller) call(name string, ints ...uint64) uint64 {
	f := c.fn(name)
	if f == nil {
		return 0
	}
	r, err := f.Call(c.ctx, ints...)
	if err != nil {
		c.err = err
	}
	return r
}

func (c *caller) int(name string, args ...uint64) uint64 { return c.call(name, args...) }

// double calls a function of doubles returning a double.
func (c *caller) double(name string, args ...float64) float64 {
	if c.err != nil {
		return 0
	}
	types := make([]*abi.Type, len(args))
	vals := make([]any, len(args))
	for i, v := range args {
		types[i], vals[i] = abi.Float64, v
	}
	sig, err := loader.NewSignature(abi.Float64, types...)
	var f *loader.Func
	if err == nil {
		f, err = c.p.FuncSig(name, sig)
	}
	var r float64
	if err == nil {
		err = f.CallSig(c.ctx, &r, vals...)
	}
	if err != nil {
		c.err = err
	}
	return r
}

func (c *caller) str(name string) string {
	r := c.call(name)
	if c.err != nil {
		return ""
	}
	s, err := formatResult("str", r, 0)
	if err != nil {
		c.err = err
	}
	return s
}

func (c *caller) strArg(name, text string) uint64 {
	cs, addrs, err := newCStrings([]string{text})
	if err != nil {
		c.err = err
		return 0
	}
	defer cs.free()
	return c.call(name, addrs[0])
}
