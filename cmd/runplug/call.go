package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/abi"
	"github.com/runplug/runplug/loader"
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

var callCommand = command{
	name:    "call",
	args:    "FILE SYMBOL [ARG...]",
	summary: "load FILE with runplug's loader, call SYMBOL with the ARGs and print its result",
	native:  true,
	details: `Each ARG is an integer (123, -5, 0x1f; passed as 64 bits), d:REAL (a double),
f:REAL (a float) or s:TEXT (a pointer to a NUL-terminated copy of TEXT), any
number of them: the first 6 integers or strings and 8 floating-point values in
registers, the rest on the stack, as the SysV AMD64 ABI says. "..." marks where
the variable part of a variadic function's arguments starts (al is set; a
float there is passed as a double). Errors count arguments from 1. The result
is printed as --ret says (default int: rax as a signed integer).

Without a declaration runplug cannot know the function's types: the integer
2 given to cos goes to rdi while cos reads xmm0. --sig 'double(double)'
gives them in C declaration syntax ('int(const char *, ...)',
'unsigned long strlen(const char *s)'): each ARG is then converted to its
parameter's type (2 becomes 2.0; a char * parameter takes the text itself)
or refused when it does not fit (5000000000 for an int), a missing ARG is
refused, and the result is printed as declared. Without --sig, a FILE built
with -g declares SYMBOL itself: its DWARF is read and used the same way
(--ret, if given, must read the declared result). Without either, --ret
double or float with no d:/f: argument prints a warning.

--timeout DURATION stops a call that does not return in time (exit status
1); by default a call may run as long as it likes.

FILE may be a name without a slash ("libz.so.1"): unless a file of that name
is in the current directory, it is searched for as dlopen does. Needed
libraries are searched in FILE's DT_RUNPATH, then each -L DIR in order,
then LD_LIBRARY_PATH and the system directories. The plugin may call the host
functions runplug_log and runplug_now_ns (plugins/runplug.h).

Exit status: 0 the call returned, 1 an error (one line on standard error),
2 a usage error, 3 the plugin faulted (in SYMBOL or in a constructor).
`,
	run: runCall,
}

// runCall is `runplug call`: load FILE with runplug's loader, call SYMBOL
// with the ARGs and print the result on one line.
func runCall(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("call")
	ret := fs.String("ret", "int", "result `KIND`: int, uint, hex, double, float, str or void (with --sig: from the declaration)")
	sigText := fs.String("sig", "", "the C declaration `DECL` of SYMBOL, e.g. 'double(double)' or 'int(const char *, ...)': ARGs are converted to its parameter types or refused")
	timeout := fs.Duration("timeout", 0, "stop the call after `DURATION` (e.g. 5s; 0: no limit), an error with exit status 1")
	var dirs dirList
	fs.Var(&dirs, "L", "a directory `DIR` to search for needed libraries (repeatable)")
	isolated := fs.Bool("isolate", false, isolateUsage) // isolate.go
	stateFile := fs.String("state", "", stateUsage)     // state.go
	logger, err := parseFlags(fs, level, args, stdout, stderr)
	if err != nil {
		return flagExit(err)
	}
	retSet := false
	fs.Visit(func(f *flag.Flag) { retSet = retSet || f.Name == "ret" })
	if !slices.Contains(retKinds, *ret) {
		return usageError(stderr, "call", fmt.Sprintf("--ret %q: want one of %s", *ret, strings.Join(retKinds, ", ")))
	}
	if fs.NArg() < 2 {
		return usageError(stderr, "call", "want FILE SYMBOL [ARG...]")
	}
	path, symbol := fs.Arg(0), fs.Arg(1)
	// Parse FILE as inspect does first, so that the two commands word a
	// file that is no shared object the same way.
	objPath, err := checkObject(path, dirs)
	if err != nil {
		return fail(stderr, objectError("call", path, err))
	}
	// The declaration: --sig, else FILE's DWARF (built with -g), else none.
	var fd *abi.FuncDecl
	source := "--sig"
	if *sigText != "" {
		if retSet {
			return usageError(stderr, "call", "--ret and --sig: the declaration gives the result type, drop --ret")
		}
		if fd, err = abi.ParseFunc(*sigText); err != nil {
			return usageError(stderr, "call", "--sig: "+err.Error())
		}
	} else if d, why := dwarfDecl(objPath, symbol); d != nil {
		fd, source = d, "DWARF"
		logger.Debug("declaration from DWARF", "path", objPath, "symbol", symbol, "declaration", d.Signature())
	} else if why != "" {
		logger.Debug("no usable declaration in DWARF", "path", objPath, "symbol", symbol, "error", why)
	}
	var ca *callArgs
	if fd != nil {
		kind, err := sigRetKind(fd, *isolated)
		if err != nil {
			return usageError(stderr, "call", fmt.Sprintf("%s %s (%s): %v", symbol, fd.Signature(), source, err))
		}
		if retSet && !retFits(*ret, kind) {
			return usageError(stderr, "call", fmt.Sprintf("%s's DWARF declares %s %s: --ret %s does not read that result; drop --ret", path, symbol, fd.Signature(), *ret))
		}
		if !retSet {
			*ret = kind
		}
		if ca, err = sigCallArgs(fd, fs.Args()[2:]); err != nil {
			return usageError(stderr, "call", fmt.Sprintf("%s %s (%s): %v", symbol, fd.Signature(), source, err))
		}
		ca.Result = fd.Result
	} else {
		if ca, err = parseCallArgs(fs.Args()[2:]); err != nil {
			return usageError(stderr, "call", err.Error())
		}
		if w := floatRetWarning(*ret, ca); w != "" {
			fmt.Fprintf(stderr, "runplug: call %s %s: %s\n", path, symbol, w)
		}
	}

	if *isolated && *ret == "str" {
		return usageError(stderr, "call", "--ret str cannot read the child's memory with --isolate")
	}
	ctx := context.Background()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	l := loader.New(loader.Options{Logger: logger, SearchPath: dirs, Isolation: isolation(*isolated, logger, stdout, stderr)})
	defer l.Close(context.Background())
	if err := registerBuiltins(l, stderr); err != nil {
		return fail(stderr, fmt.Errorf("call %s: %w", path, err))
	}
	p, err := loadForCall(ctx, l, objectArg(path), *stateFile)
	if err != nil {
		return callFailed(stderr, fmt.Sprintf("call %s: load", path), err)
	}
	var addrs []uint64
	if *isolated {
		addrs = make([]uint64, len(ca.Texts())) // the texts go as Go strings below
	} else {
		strs, a, err := newCStrings(ca.Texts())
		if err != nil {
			return fail(stderr, fmt.Errorf("call %s %s: %w", path, symbol, err))
		}
		defer strs.free()
		addrs = a
	}
	sig, vals, err := ca.signature(*ret, addrs)
	if err != nil {
		return fail(stderr, fmt.Errorf("call %s %s: %w", path, symbol, err))
	}
	if *isolated {
		isolatedTexts(ca, vals) // isolate.go
	}
	fn, err := p.FuncSig(symbol, sig)
	if err != nil {
		if errors.Is(err, loader.ErrSymbolNotFound) {
			err = fmt.Errorf("%w (runplug inspect %s lists what it exports)", err, path)
		}
		return fail(stderr, fmt.Errorf("call %s %s: %w", path, symbol, err))
	}
	logger.Debug("calling", "plugin", p.Name(), "symbol", symbol, "addr", fmt.Sprintf("%#x", fn.Addr()), "signature", sig.String())
	var r struct {
		Int   uint64
		Float float64
	}
	var out any
	switch *ret {
	case "double":
		out = &r.Float
	case "float":
		out = new(float32)
	case "void":
	default:
		out = &r.Int
	}
	logger.Trace("arguments", "values", fmt.Sprint(vals))
	err = fn.CallSig(ctx, out, vals...)
	if f, ok := out.(*float32); ok {
		r.Float = float64(*f)
	}
	if err != nil {
		if errors.Is(err, loader.ErrDeadline) {
			return fail(stderr, fmt.Errorf("call %s %s: no result within --timeout %v: %w", path, symbol, *timeout, err))
		}
		return callFailed(stderr, fmt.Sprintf("call %s %s", path, symbol), err)
	}
	if *isolated {
		// The child's stdio is its own: a graceful close flushes it and
		// waits for its output, which then comes before the result, as
		// in process.
		if err := l.Close(context.Background()); err != nil {
			return fail(stderr, fmt.Errorf("call %s: unload: %w", path, err))
		}
	} else {
		flushCStdio(l, logger)
	}
	text, err := formatResult(*ret, narrow(r.Int, ca.Result), r.Float)
	if err != nil {
		return fail(stderr, fmt.Errorf("call %s %s: result: %w", path, symbol, err))
	}
	if *ret != "void" {
		fmt.Fprintln(stdout, text)
	}
	if err := l.Close(context.Background()); err != nil {
		return fail(stderr, fmt.Errorf("call %s: unload: %w", path, err))
	}
	return exitOK
}

// callFailed reports the error of a load or a call: a fault of the plugin's
// code (in the call, or in a constructor during the load) gets exit status
// 3 and a fault report, anything else exit status 1. Both are one line.
func callFailed(stderr io.Writer, what string, err error) int {
	var fe *loader.FaultError
	if errors.As(err, &fe) {
		fmt.Fprintf(stderr, "runplug: %s: plugin faulted: %s\n", what, oneLine(fe.Error()))
		return exitFault
	}
	return fail(stderr, fmt.Errorf("%s: %w", what, err))
}

// flushCStdio flushes the C library's stdio buffers (fflush(NULL)), so
// that what the plugin printed with printf comes out, before the result:
// a Go program exits without running C's exit handlers, which would.
func flushCStdio(l *loader.Loader, logger hclog.Logger) {
	libc, err := l.Load(context.Background(), "libc.so.6")
	if err == nil {
		var f *loader.Func
		if f, err = libc.Func("fflush"); err == nil {
			_, err = f.Call(0)
		}
	}
	if err != nil {
		logger.Warn("C stdio not flushed", "error", err)
	}
}
