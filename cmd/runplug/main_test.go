package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestGlobalLogLevel: --log-level is accepted before the command as well
// as after it, and the command's own wins.
func TestGlobalLogLevel(t *testing.T) {
	basic := plugintest.Build(t, "basic")
	for _, args := range [][]string{
		{"--log-level", "debug", "inspect", basic},
		{"--log-level=debug", "inspect", basic},
		{"inspect", "--log-level", "debug", basic},
		{"--log-level", "off", "inspect", "--log-level", "debug", basic},
	} {
		code, _, errs := runCmd(t, args...)
		if code != exitOK || !strings.Contains(errs, "[DEBUG]") {
			t.Errorf("%q: exit %d, stderr %q, want debug lines", args, code, errs)
		}
	}
	if code, _, errs := runCmd(t, "--log-level", "loud", "inspect", basic); code != exitUsage || strings.Count(errs, "\n") != 1 {
		t.Errorf("--log-level loud: exit %d, stderr %q, want a one-line usage error", code, errs)
	}
}

// TestTraceLogsMore: trace is offered, so it must show more than debug.
func TestTraceLogsMore(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	basic := plugintest.Build(t, "basic")
	_, _, debug := runCmd(t, "--log-level", "debug", "call", basic, "add", "1", "2")
	_, _, trace := runCmd(t, "--log-level", "trace", "call", basic, "add", "1", "2")
	if !strings.Contains(trace, "[TRACE]") || strings.Count(trace, "\n") <= strings.Count(debug, "\n") {
		t.Errorf("trace logged\n%s\ndebug logged\n%s\nwant more lines, [TRACE] among them", trace, debug)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, out, errs := runCmd(t, args...)
		if code != exitOK || errs != "" || !strings.HasPrefix(out, "runplug ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q, want one line", args, code, out, errs)
		}
	}
}

// TestHelp: `runplug help CMD` and `CMD --help` print the same text, which
// says what the command takes.
func TestHelp(t *testing.T) {
	want := map[string][]string{
		"call":    {"FILE SYMBOL [ARG...]", "-L DIR", `(default "int")`, "before the first argument", "Exit status", "3 the plugin faulted", "count arguments from 1", "--log-level"},
		"inspect": {"FILE", "-json", "Exit status", "before the first argument"},
		"demo":    {"Exit status"},
		"version": {"version"},
		"ldd":     {"FILE", "-L", "Exit status", "name without a slash"},
		"check":   {"PATH...", "--against-dlopen", "Exit status"},
	}
	for _, c := range commands {
		if c.hidden {
			continue
		}
		code, help, errs := runCmd(t, "help", c.name)
		if code != exitOK || errs != "" {
			t.Errorf("help %s: exit %d, stderr %q", c.name, code, errs)
		}
		for _, arg := range []string{"--help", "-h"} {
			code, out, _ := runCmd(t, c.name, arg)
			if code != exitOK || out != help {
				t.Errorf("%s %s: exit %d, output differs from help %s:\n%s\n---\n%s", c.name, arg, code, c.name, out, help)
			}
		}
		for _, w := range want[c.name] {
			if !strings.Contains(help, w) {
				t.Errorf("help %s lacks %q:\n%s", c.name, w, help)
			}
		}
	}
	code, out, _ := runCmd(t, "help")
	for _, c := range commands {
		if !c.hidden && (code != exitOK || !strings.Contains(out, c.name)) {
			t.Errorf("help: exit %d, does not list %s:\n%s", code, c.name, out)
		}
	}
	if code, _, errs := runCmd(t, "help", "nope"); code != exitUsage || strings.Count(errs, "\n") != 1 {
		t.Errorf("help nope: exit %d, stderr %q", code, errs)
	}
}

// TestSameFailureSameWords: inspect and call word a file that is no shared
// object the same way.
func TestSameFailureSameWords(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "six.txt")
	if err := os.WriteFile(text, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, text, filepath.Join(dir, "missing.so"), "libno-such-runplug-test.so"} {
		_, _, ierr := runCmd(t, "inspect", p)
		_, _, cerr := runCmd(t, "call", p, "f")
		if strings.HasPrefix(ierr, "runplug: not an ELF shared object: ") && ierr == cerr {
			continue // no command named: the file is the problem
		}
		iwhy := strings.TrimPrefix(ierr, "runplug: inspect "+p+": ")
		cwhy := strings.TrimPrefix(cerr, "runplug: call "+p+": ")
		if iwhy == ierr || cwhy == cerr || iwhy != cwhy {
			t.Errorf("%s:\n\tinspect: %q\n\tcall:    %q\nwant the same reason", p, ierr, cerr)
		}
	}
}

// TestHelpSpellsFlagsWithTwoDashes: every command's help spells its long
// flags --name, as README.md and docs/CLI.md do.
func TestHelpSpellsFlagsWithTwoDashes(t *testing.T) {
	for _, c := range commands {
		if c.hidden {
			continue
		}
		code, out, _ := runCmd(t, "help", c.name)
		if code != exitOK {
			t.Fatalf("help %s: exit %d", c.name, code)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "  -") && !strings.HasPrefix(line, "  --") && !strings.HasPrefix(line, "  -L ") {
				t.Errorf("help %s: %q spells a flag with one dash", c.name, line)
			}
		}
		if !strings.Contains(out, "  --log-level LEVEL") {
			t.Errorf("help %s lists no --log-level:\n%s", c.name, out)
		}
	}
}
