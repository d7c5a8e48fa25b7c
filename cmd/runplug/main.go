// Command runplug inspects and calls ELF shared objects with runplug's own
// loader, and demonstrates it.
//
// Usage:
//
//	runplug                      run the demo on the embedded example plugin
//	runplug demo [--log-level L] the same, with flags
//	runplug inspect [--json] [--log-level L] FILE
//	runplug call [--ret KIND] [-L DIR]... [--log-level L] FILE SYMBOL [ARG...]
//	runplug ldd [--json] [-L DIR]... [--log-level L] FILE
//	runplug check [--json] [--against-dlopen] [--timeout D] PATH...
//
// FILE may be a name without a slash ("libz.so.1"): unless a file of that
// name is in the current directory, it is searched for as dlopen does.
//
// call gives the plugin the host functions declared in plugins/runplug.h
// (runplug_log, runplug_now_ns); inspect lists the imports a host must
// provide.
//
// Flags come before the positional arguments (so that a negative integer
// argument of call is never taken for a flag).
//
// Exit status: 0 success, 1 error (one line on standard error), 2 usage
// error, 3 the called plugin faulted (call only).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	exitFault = 3
)

const usageText = `usage:
  runplug                       run the demo on the embedded example plugin
  runplug demo [--log-level L]
  runplug inspect [--json] [--log-level L] FILE
  runplug ldd [--json] [-L DIR]... [--log-level L] FILE
      the dependency tree as runplug resolves it; exit 1 when something would be refused or is missing
  runplug check [--json] [--against-dlopen] [--timeout D] PATH...
      load and close each shared object under PATH (files or directories, recursive), each in a child
      process; --against-dlopen compares with glibc's dlopen (exit 0 when runplug loads all it loads)
  runplug call [--ret int|uint|hex|double|str|void] [-L DIR]... [--log-level L] FILE SYMBOL [ARG...]
      ARG: an integer (123, -5, 0x1f), d:REAL (a double), s:TEXT (a pointer to a C string)
      the plugin may call the host functions runplug_log and runplug_now_ns (plugins/runplug.h)
FILE: a path, or a name without a slash (not a file in the current directory) searched for as dlopen does
log levels: trace, debug, info, warn, error, off (default off)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, writes to stdout and stderr, and
// returns the exit status. Tests call it directly.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return runDemo(nil, stdout, stderr)
	}
	switch args[0] {
	case "inspect":
		return runInspect(args[1:], stdout, stderr)
	case "call":
		return runCall(args[1:], stdout, stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "ldd":
		return runLdd(args[1:], stdout, stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case checkChildCmd:
		return runCheckChild(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	}
	return usageError(stderr, "", fmt.Sprintf("unknown command %q", args[0]))
}

// errUsage is returned by parseFlags after it has reported a usage error.
var errUsage = errors.New("usage")

// errHelp is returned by parseFlags after it has printed help.
var errHelp = errors.New("help")

// newFlagSet makes a flag set for a subcommand with the --log-level flag
// every subcommand has. Messages from the flag package are discarded: run
// reports usage errors itself, on one line.
func newFlagSet(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	level := fs.String("log-level", "off", "log level: trace, debug, info, warn, error or off")
	return fs, level
}

// parseFlags parses args with fs and builds the logger. On a usage error it
// prints one line and returns errUsage; for -h it prints the usage text and
// returns errHelp.
func parseFlags(fs *flag.FlagSet, level *string, args []string, stdout, stderr io.Writer) (hclog.Logger, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return nil, errHelp
		}
		usageError(stderr, fs.Name(), err.Error())
		return nil, errUsage
	}
	logger, err := newLogger(*level, stderr)
	if err != nil {
		usageError(stderr, fs.Name(), err.Error())
		return nil, errUsage
	}
	return logger, nil
}

// flagExit turns errUsage and errHelp from parseFlags into exit statuses.
func flagExit(err error) int {
	if errors.Is(err, errHelp) {
		return exitOK
	}
	return exitUsage
}

// newLogger returns a logger writing to w at the named level; "off" (the
// default) gives a logger that discards everything.
func newLogger(level string, w io.Writer) (hclog.Logger, error) {
	if strings.EqualFold(level, "off") || level == "" {
		return hclog.NewNullLogger(), nil
	}
	l := hclog.LevelFromString(level)
	if l == hclog.NoLevel {
		return nil, fmt.Errorf("unknown log level %q (want trace, debug, info, warn, error or off)", level)
	}
	return hclog.New(&hclog.LoggerOptions{Name: "runplug", Level: l, Output: w}), nil
}

// usageError prints one usage line and returns exitUsage.
func usageError(stderr io.Writer, cmd, msg string) int {
	prefix := "runplug: "
	if cmd != "" {
		prefix += cmd + ": "
	}
	fmt.Fprintf(stderr, "%s%s (see runplug help)\n", prefix, oneLine(msg))
	return exitUsage
}

// fail prints err as one line prefixed with "runplug: " and returns
// exitError.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "runplug: %s\n", oneLine(err.Error()))
	return exitError
}

// oneLine folds a message onto one line, so that an error read from a
// hostile file (a symbol name with a newline in it) cannot forge more lines.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}
