package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// TestCallSig: with --sig, ARGs are converted to the declared parameter
// types (the integer 2 reaches cos as the double 2.0), results are read at
// their declared width, and what does not fit is refused naming the
// argument and its type.
func TestCallSig(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	basic := plugintest.Build(t, "basic")
	for _, tt := range []struct {
		args []string
		out  string // stdout, without the newline; "" with want
		code int
		want string // in stderr
	}{
		{args: []string{"--sig", "double(double)", "libm.so.6", "cos", "2"}, out: strconv.FormatFloat(math.Cos(2), 'g', -1, 64)},
		{args: []string{"--sig", "double cos(double x)", "libm.so.6", "cos", "d:0.5"}, out: strconv.FormatFloat(math.Cos(0.5), 'g', -1, 64)},
		{args: []string{"--sig", "float(float)", "libm.so.6", "sqrtf", "2"}, out: strconv.FormatFloat(float64(float32(math.Sqrt(2))), 'g', -1, 32)},
		{args: []string{"--sig", "int(int)", "libc.so.6", "abs", "-5"}, out: "5"},
		{args: []string{"--sig", "unsigned long(const char *)", "libc.so.6", "strlen", "hello"}, out: "5"},
		{args: []string{"--sig", "unsigned long strlen(const char *s)", "libc.so.6", "strlen", "s:four"}, out: "4"},
		{args: []string{"--sig", "int64_t(int64_t, int64_t)", basic, "add", "-2", "7"}, out: "5"},
		{args: []string{"--sig", "double(double, double)", basic, "scale", "3", "0.5"}, out: "1.5"},
		{args: []string{"--sig", "const char *(void)", basic, "greeting"}, out: readGreeting(t, basic)},
		// int8_t result: the upper bits of rax are not the result's.
		{args: []string{"--sig", "int8_t(int64_t, int64_t)", basic, "add", "100", "100"}, out: "-56"},
		{args: []string{"--sig", "int(const char *, ...)", "libc.so.6", "snprintf"}, code: exitUsage, want: "missing argument 1 (const char *)"},
		{args: []string{"--sig", "double(double)", "libm.so.6", "cos"}, code: exitUsage, want: "missing argument 1 (double): the declaration takes 1, 0 given"},
		{args: []string{"--sig", "unsigned long(const char *s)", "libc.so.6", "strlen"}, code: exitUsage, want: "missing argument 1 (const char *s)"},
		{args: []string{"--sig", "double(double)", "libm.so.6", "cos", "1", "2"}, code: exitUsage, want: `argument 2: "2" is one too many`},
		{args: []string{"--sig", "double(double)", "libm.so.6", "cos", "s:x"}, code: exitUsage, want: `argument 1 (double): "s:x" is not a double`},
		{args: []string{"--sig", "int(int)", "libc.so.6", "abs", "5000000000"}, code: exitUsage, want: "5000000000 does not fit int (-2147483648 to 2147483647)"},
		{args: []string{"--sig", "int(unsigned char)", "libc.so.6", "abs", "-1"}, code: exitUsage, want: "-1 does not fit unsigned char (0 to 255)"},
		{args: []string{"--sig", "int(int)", "libc.so.6", "abs", "d:2.5"}, code: exitUsage, want: `"d:2.5" for an integer parameter`},
		{args: []string{"--sig", "int(long double)", "libc.so.6", "abs", "1"}, code: exitUsage, want: "cannot pass a long double"},
		{args: []string{"--sig", "double(struct point)", "libm.so.6", "cos", "1"}, code: exitUsage, want: "struct point by value"},
		{args: []string{"--sig", "double(double", "libm.so.6", "cos", "1"}, code: exitUsage, want: "--sig: abi: C declaration"},
		{args: []string{"--sig", "double(double)", "--ret", "int", "libm.so.6", "cos", "1"}, code: exitUsage, want: "--ret and --sig"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := runCmd(t, append([]string{"call"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", code, tt.code, out, errs)
			}
			if tt.want != "" {
				if !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 || out != "" {
					t.Fatalf("stdout %q, stderr %q: want one line containing %q", out, errs, tt.want)
				}
				return
			}
			if errs != "" || out != tt.out+"\n" {
				t.Fatalf("stdout %q, stderr %q, want %q", out, errs, tt.out)
			}
		})
	}
}

// readGreeting returns basic's greeting as a call without --sig prints it.
func readGreeting(t *testing.T, basic string) string {
	return callOK(t, "--ret", "str", basic, "greeting")
}

// TestCallSigVariadic: the declared part is converted, the variable part
// read as without --sig; printf's output reaches stdout before the result.
func TestCallSigVariadic(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	code, out, errs := runCmd(t, "call", "--sig", "int(char *, unsigned long, const char *, ...)", "libc.so.6", "snprintf", "0", "0", "%d-%s-%.1f", "42", "s:x", "d:2.5")
	if code != exitOK || errs != "" || out != fmt.Sprintln(len("42-x-2.5")) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

// TestCallFloatWarning: without --sig, a float result with only integer
// arguments is the classic mistake (the 2 went to rdi, cos read xmm0): the
// call still runs as asked, with a warning that says what to write.
func TestCallFloatWarning(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	for _, tt := range []struct {
		args []string
		warn bool
	}{
		{[]string{"--ret", "double", "libm.so.6", "cos", "2"}, true},
		{[]string{"--ret", "float", "libm.so.6", "sqrtf", "2"}, true},
		{[]string{"--ret", "double", "libm.so.6", "cos", "d:2"}, false},
		{[]string{"--ret", "int", "libc.so.6", "abs", "2"}, false},
	} {
		code, out, errs := runCmd(t, append([]string{"call"}, tt.args...)...)
		if code != exitOK || out == "" {
			t.Errorf("%q: exit %d, stdout %q", tt.args, code, out)
		}
		if got := strings.Contains(errs, "warning: --ret") && strings.Contains(errs, "--sig 'double(double)'"); got != tt.warn || tt.warn && strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: stderr %q, want a warning: %v", tt.args, errs, tt.warn)
		}
	}
}

// TestFlagsAfterFile: a flag after the positional arguments is refused
// saying that flags go first, for every command that has flags; negative
// integers stay arguments.
func TestFlagsAfterFile(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	basic := plugintest.Build(t, "basic")
	for _, args := range [][]string{
		{"call", "libc.so.6", "strlen", "--ret", "int"},
		{"call", basic, "add", "1", "2", "--timeout=1s"},
		{"call", basic, "add", "-isolate"},
		{"inspect", basic, "--json"},
		{"ldd", basic, "-L", "/tmp"},
		{"check", basic, "--json"},
	} {
		code, out, errs := runCmd(t, args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, "flags go before FILE") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if got := callOK(t, basic, "add", "-5", "-7"); got != "-12" {
		t.Errorf("add -5 -7 = %s", got)
	}
}

// TestCallTimeout: --timeout ends a call that never returns, as an error
// naming the flag, instead of hanging the command.
func TestCallTimeout(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	spin := plugintest.Build(t, "ffi_call")
	start := time.Now()
	code, out, errs := runCmd(t, "call", "--timeout", "100ms", spin, "spin_stack", "1", "2", "3", "4", "5", "6", "7")
	if code != exitError || out != "" || !strings.Contains(errs, "no result within --timeout 100ms") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	t.Logf("returned after %v", time.Since(start))
}

// TestNotAnObject: a file that is not an ELF shared object says so first,
// names the file, gives the evidence, and what to do where there is
// something to do; the same for inspect, call and ldd.
func TestNotAnObject(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("hello\n"), 0o644)
	script := filepath.Join(dir, "libfoo.so")
	os.WriteFile(script, []byte("/* GNU ld script\n   Use the shared library. */\nGROUP ( /lib/libfoo.so.1 )\n"), 0o644)
	longText := filepath.Join(dir, "readme.so")
	os.WriteFile(longText, bytes.Repeat([]byte("runplug loads plugins\n"), 10), 0o644)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file string
		want []string
	}{
		{text, []string{"smaller than an ELF header"}},
		{script, []string{"is not the ELF magic", "a linker script: give the library it names"}},
		{longText, []string{"is not the ELF magic", "give the path of a .so file"}},
		{dir, []string{"is a directory"}},
		{exe, []string{"an executable: build the plugin with cc -shared -fPIC"}},
	} {
		for _, cmd := range [][]string{{"inspect", tt.file}, {"call", tt.file, "f"}, {"ldd", tt.file}} {
			code, out, errs := runCmd(t, cmd...)
			prefix := "runplug: not an ELF shared object: " + tt.file + ": "
			if code != exitError || out != "" || !strings.HasPrefix(errs, prefix) || strings.Count(errs, "\n") != 1 {
				t.Errorf("%q: exit %d, stdout %q, stderr %q, want one line starting %q", cmd, code, out, errs, prefix)
				continue
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("%q: stderr %q, want %q in it", cmd, errs, w)
				}
			}
		}
	}
}

// TestLddErrorsOnStderr: ldd of a file that does not exist is an error on
// standard error with exit status 1, not a tree on standard output.
func TestLddErrorsOnStderr(t *testing.T) {
	for _, arg := range []string{"/nonexistent/libx.so", "libno-such-library.so.9"} {
		code, out, errs := runCmd(t, "ldd", arg)
		if code != exitError || out != "" || !strings.HasPrefix(errs, "runplug: ldd "+arg+": ") || strings.Count(errs, "\n") != 1 {
			t.Errorf("ldd %s: exit %d, stdout %q, stderr %q", arg, code, out, errs)
		}
	}
}

// TestErrorsSayWhatToDo: the common mistakes' errors name the file and
// the next step.
func TestErrorsSayWhatToDo(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	basic := plugintest.Build(t, "basic")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"call", basic, "no_such_fn"}, "(runplug inspect " + basic + " lists what it exports)"},
		{[]string{"call", "libno-such-runplug.so.1", "f"}, "(give its path, or its directory with -L DIR)"},
		{[]string{"ldd", "libno-such-runplug.so.1"}, "(give its path, or its directory with -L DIR)"},
	} {
		code, _, errs := runCmd(t, tt.args...)
		if code != exitError || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q, want one line with %q", tt.args, code, errs, tt.want)
		}
	}
}
