// Command runplug inspects and calls ELF shared objects with runplug's own
// loader, and demonstrates it.
//
// Usage:
//
//	runplug [--log-level L] [COMMAND] [FLAGS] [ARGS]
//	runplug help [COMMAND]
//	runplug --version
//
// With no command it runs the demo on the embedded example plugin. FILE
// may be a name without a slash ("libz.so.1"): unless a file of that name
// is in the current directory, it is searched for as dlopen does.
// `runplug help` lists the commands; `runplug help COMMAND` (or
// `runplug COMMAND --help`) says what one takes (docs/CLI.md says the
// same with examples). Flags come before the positional arguments (so that
// a negative integer argument of call is never taken for a flag); a flag
// after them is refused with a message that says so. --log-level is
// accepted before the command as well as among its flags.
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
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/runplug/runplug/internal/pcall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	exitFault = 3
)

// command is one row of runplug's command table.
type command struct {
	name    string
	args    string // what follows the flags, for the usage line: "FILE SYMBOL [ARG...]"
	summary string // one line, for `runplug help`
	details string // what `runplug help NAME` adds: arguments, defaults, exit statuses
	native  bool   // runs plugin code: needs a build that can (sandbox.Supported)
	hidden  bool   // not listed by `runplug help` (internal to another command)
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands is the command table, in the order `runplug help` lists them.
// To add a command, write its run function (which parses its flags with
// newFlagSet and parseFlags, so that --help works) and a command value in
// a file of its own, and add a line here. (It is filled by init because
// the run functions print their help from it.)
var commands []*command

func init() {
	commands = []*command{
		&demoCommand,
		&inspectCommand,
		&lddCommand,
		&callCommand,
		&checkCommand,
		&checkChildCommand,
		&versionCommand,
	}
}

var lddCommand = command{
	name:    "ldd",
	args:    "FILE",
	summary: "print the dependency tree of FILE as runplug resolves it",
	details: `FILE may be a name without a slash ("libz.so.1"): unless a file of that name
is in the current directory, it is searched for as dlopen does. Needed
libraries are searched in each object's DT_RUNPATH, then each -L DIR in
order, then LD_LIBRARY_PATH and the system directories. Nothing is mapped
or run.

Exit status: 0 every library resolves, 1 something is missing or would be
refused (the tree shows what; other errors: one line on standard error),
2 a usage error.
`,
	run: runLdd,
}

var checkCommand = command{
	name:    "check",
	args:    "PATH...",
	summary: "load and close each shared object under PATH, each in a child process, and report",
	native:  true,
	details: `Each PATH is a file or a directory (searched recursively). Every ELF shared
object found is loaded and closed by runplug in a child process of its own,
so that a crash or a hang is reported and the next object starts clean.
--against-dlopen also dlopens each object in a child and compares. On a
terminal, standard error counts the objects done; a pipe gets the report
alone.

Exit status: 0 runplug loads every object (with --against-dlopen: every
object it loads where glibc's dlopen does), 1 otherwise or on an error,
2 a usage error.
`,
	run: runCheck,
}

// checkChildCommand is the hidden command a child of check runs.
var checkChildCommand = command{
	name:    checkChildCmd,
	args:    "runplug|dlopen PATH",
	summary: "(internal) one load of check, in its own process",
	native:  true,
	hidden:  true,
	run:     runCheckChild,
}

// lookupCommand returns the command named name, or nil.
func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command: it parses args, writes to stdout and stderr, and
// returns the exit status. Tests call it directly.
func run(args []string, stdout, stderr io.Writer) int {
	// Global flags, before the command: --log-level, --version, --help.
	global := flag.NewFlagSet("runplug", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	level := global.String("log-level", "", "log level (see runplug help)")
	version := global.Bool("version", false, "print the version")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printOverview(stdout)
			return exitOK
		}
		return usageError(stderr, "", err.Error())
	}
	if *version {
		return runVersion(nil, stdout, stderr)
	}
	args = global.Args()
	name := "demo"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		return runHelp(args, stdout, stderr)
	}
	c := lookupCommand(name)
	if c == nil {
		return usageError(stderr, "", fmt.Sprintf("unknown command %q", name))
	}
	if c.native && !pcall.Supported && !wantsHelp(args) {
		return fail(stderr, fmt.Errorf("%s: %w", name, pcall.ErrPlatform))
	}
	if *level != "" {
		// The command's own --log-level, if given, comes later and wins.
		args = append([]string{"--log-level=" + *level}, args...)
	}
	return c.run(args, stdout, stderr)
}

// wantsHelp reports whether a command's arguments ask for its help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// runHelp is `runplug help [COMMAND]`.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		printOverview(stdout)
		return exitOK
	case 1:
		if args[0] == "help" {
			printOverview(stdout)
			return exitOK
		}
		c := lookupCommand(args[0])
		if c == nil {
			return usageError(stderr, "help", fmt.Sprintf("unknown command %q", args[0]))
		}
		return c.run([]string{"--help"}, stdout, stderr)
	}
	return usageError(stderr, "help", "want at most one COMMAND")
}

const logLevels = "trace, debug, info, warn, error or off"

// printOverview is `runplug help`: every command on one line.
func printOverview(w io.Writer) {
	fmt.Fprintf(w, "usage: runplug [--log-level L] [COMMAND] [FLAGS] [ARGS]\n\n")
	fmt.Fprintf(w, "commands (with none, runplug runs demo):\n")
	for _, c := range commands {
		if !c.hidden {
			fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
		}
	}
	fmt.Fprintf(w, "  %-8s %s\n", "help", "say what a command takes: runplug help COMMAND")
	fmt.Fprintf(w, "\nglobal flags (before COMMAND):\n  --log-level L   %s (default off)\n  --version       print the version\n", logLevels)
	fmt.Fprintf(w, "\nexit status: 0 success, 1 error, 2 usage error, 3 the called plugin faulted\n")
}

// printHelp is `runplug help NAME` and `runplug NAME --help`: parseFlags
// calls it with the command's flag set.
func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: runplug %s [FLAGS]", c.name)
	if c.args != "" {
		fmt.Fprint(w, " "+c.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", c.summary)
	if c.details != "" {
		fmt.Fprintf(w, "\n%s", c.details)
		if !strings.HasSuffix(c.details, "\n") {
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintf(w, "\nflags (all before the first argument; --log-level may also come before %s):\n", c.name)
	printFlags(w, fs)
}

// printFlags lists fs's flags as the flag package's PrintDefaults does,
// but spelled with two dashes, as README.md and docs/CLI.md spell them (a
// single dash works too): one spelling everywhere a user reads it.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		dashes := "--"
		if len(f.Name) == 1 {
			dashes = "-" // -L, as cc and ld spell it
		}
		line := "  " + dashes + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
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
	level := fs.String("log-level", "off", "log `LEVEL`: "+logLevels)
	return fs, level
}

// parseFlags parses args with fs and builds the logger. On a usage error it
// prints one line and returns errUsage; for -h it prints the command's help
// and returns errHelp.
func parseFlags(fs *flag.FlagSet, level *string, args []string, stdout, stderr io.Writer) (hclog.Logger, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if c := lookupCommand(fs.Name()); c != nil {
				printHelp(stdout, c, fs)
			} else {
				printOverview(stdout)
			}
			return nil, errHelp
		}
		usageError(stderr, fs.Name(), err.Error())
		return nil, errUsage
	}
	if f := flagAfterArgs(fs); f != "" {
		usageError(stderr, fs.Name(), fmt.Sprintf("%s after the arguments: flags go before FILE (runplug %s [FLAGS] %s)", f, fs.Name(), commandArgs(fs.Name())))
		return nil, errUsage
	}
	logger, err := newLogger(*level, stderr)
	if err != nil {
		usageError(stderr, fs.Name(), err.Error())
		return nil, errUsage
	}
	return logger, nil
}

// flagAfterArgs returns the first positional argument of fs that names
// one of its flags ("--ret", "-timeout=2s"), or "". The flag package stops
// at the first positional argument, so such a flag would otherwise be
// taken as an argument (call would read "--ret" as an integer). A
// negative number is never a flag name.
func flagAfterArgs(fs *flag.FlagSet) string {
	for _, a := range fs.Args() {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if fs.Lookup(name) != nil || name == "h" || name == "help" {
			return a
		}
	}
	return ""
}

// commandArgs returns the usage words of a command's arguments.
func commandArgs(name string) string {
	if c := lookupCommand(name); c != nil {
		return c.args
	}
	return ""
}

// flagExit turns errUsage and errHelp from parseFlags into exit statuses.
func flagExit(err error) int {
	if errors.Is(err, errHelp) {
		return exitOK
	}
	return exitUsage
}

// newLogger returns a logger writing to w at the named level; "off" (the
// default) gives a logger that discards everything. trace is accepted as
// the most verbose level: it adds the loader's per-object events to debug's.
func newLogger(level string, w io.Writer) (hclog.Logger, error) {
	if strings.EqualFold(level, "off") || level == "" {
		return hclog.NewNullLogger(), nil
	}
	l := hclog.LevelFromString(level)
	if l == hclog.NoLevel {
		return nil, fmt.Errorf("unknown log level %q (want %s)", level, logLevels)
	}
	return hclog.New(&hclog.LoggerOptions{Name: "runplug", Level: l, Output: w}), nil
}

// usageError prints one usage line and returns exitUsage.
func usageError(stderr io.Writer, cmd, msg string) int {
	prefix := "runplug: "
	help := "runplug help"
	if cmd != "" {
		prefix += cmd + ": "
		if lookupCommand(cmd) != nil {
			help += " " + cmd
		}
	}
	fmt.Fprintf(stderr, "%s%s (see %s)\n", prefix, oneLine(msg), help)
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

var versionCommand = command{
	name:    "version",
	summary: "print runplug's version, the Go release it was built with, and whether this build can run plugins",
	run:     runVersion,
}

// runVersion is `runplug version` and `runplug --version`.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs, level := newFlagSet("version")
	if _, err := parseFlags(fs, level, args, stdout, stderr); err != nil {
		return flagExit(err)
	}
	if fs.NArg() != 0 {
		return usageError(stderr, "version", "takes no arguments")
	}
	fmt.Fprintln(stdout, versionLine())
	return exitOK
}

// versionLine is, for example, "runplug v0.3.0 (go1.26.8 linux/amd64;
// runs plugins)" or, built from a checkout, "runplug (devel) 53277a7...".
func versionLine() string {
	v := "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && v == "(devel)" {
				v += " " + s.Value
			}
		}
	}
	can := "runs plugins"
	if !pcall.Supported {
		can = "cannot run plugins: " + pcall.ErrPlatform.Error()
	}
	return fmt.Sprintf("runplug %s (%s %s/%s; %s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH, can)
}
