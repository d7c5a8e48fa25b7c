package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/pcall"
	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
	"github.com/runplug/runplug/loader"
)

// TestCallFaults calls each function of plugins/faults.c: every fault is
// exit status 3 and one report line naming the signal, what the address
// is, the symbol+offset of the PC and the plugin; the process (this test
// binary) carries on and still calls a healthy function correctly.
func TestCallFaults(t *testing.T) {
	// x86-64's faults: AArch64's integer division by zero gives 0, and
	// its trap instruction is SIGTRAP.
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "x86-64's fault kinds (faults.c)")
	faults := plugintest.Build(t, "faults")
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"fault_null_read"}, []string{"SIGSEGV (SEGV_MAPERR) at 0x0: not mapped", ": fault_null_read+0x", "in faults.so"}},
		{[]string{"fault_write_text"}, []string{"SIGSEGV (SEGV_ACCERR)", "(R-X) of faults.so", ": fault_write_text+0x"}},
		{[]string{"fault_write_rodata"}, []string{"SIGSEGV (SEGV_ACCERR)", "of faults.so", ": fault_write_rodata+0x"}},
		{[]string{"fault_div_zero", "7"}, []string{"SIGFPE (FPE_INTDIV)", ": fault_div_zero+0x", "in faults.so"}},
		{[]string{"fault_trap"}, []string{"SIGILL", ": fault_trap+0x", "in faults.so"}},
		{[]string{"fault_recurse", "0"}, []string{"SIGSEGV", "stack overflow", ": fault_recurse+0x", "in faults.so"}},
		{[]string{"fault_jump_data"}, []string{"SIGSEGV (SEGV_ACCERR)", "(RW-) of faults.so", "in faults.so"}},
		{[]string{"fault_read_past_end"}, []string{"SIGSEGV", "guard page after faults.so", ": fault_read_past_end+0x"}},
		{[]string{"fault_abort"}, []string{"SIGABRT"}},
	}
	for _, tt := range tests {
		t.Run(tt.args[0], func(t *testing.T) {
			code, out, errs := runCmd(t, append([]string{"call", faults}, tt.args...)...)
			if code != exitFault {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitFault, errs)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "runplug: call "+faults+" "+tt.args[0]+": plugin faulted: ") {
				t.Errorf("stderr %q, want one fault report line", errs)
			}
			for _, w := range tt.want {
				if !strings.Contains(errs, w) {
					t.Errorf("report %q lacks %q", errs, w)
				}
			}
			// The host carries on.
			if got := callOK(t, faults, "faults_ok", "40", "2"); got != "42" {
				t.Errorf("faults_ok(40, 2) after the fault = %s", got)
			}
		})
	}
}

// TestFaultReadsTheSame checks that a fault reads the same in the command
// as in the library: the command's report is the library's
// FaultError.Error() for the same call (load addresses aside).
func TestFaultReadsTheSame(t *testing.T) {
	testenv.NeedPort(t, pcall.CallbacksSupported, "callbacks into Go")
	faults := plugintest.Build(t, "faults")
	addr := regexp.MustCompile(`0x[0-9a-f]{6,}`) // load addresses, not 0x0 or symbol offsets
	for _, fn := range []string{"fault_null_read", "fault_write_text", "fault_read_past_end"} {
		t.Run(fn, func(t *testing.T) {
			_, _, errs := runCmd(t, "call", faults, fn)
			l := loader.New(loader.Options{})
			defer l.Close(context.Background())
			p, err := l.Load(context.Background(), faults)
			if err != nil {
				t.Fatal(err)
			}
			f, err := p.Func(fn)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.Call(context.Background())
			var fe *loader.FaultError
			if !errors.As(err, &fe) {
				t.Fatalf("library: %v, want a *loader.FaultError", err)
			}
			lib := addr.ReplaceAllString(fe.Error(), "ADDR")
			cmd := addr.ReplaceAllString(strings.TrimSuffix(errs, "\n"), "ADDR")
			if !strings.HasSuffix(cmd, ": plugin faulted: "+lib) {
				t.Errorf("command reports\n\t%s\nlibrary reports\n\t%s", cmd, lib)
			}
		})
	}
}

// TestBinaryExitStatus builds the command and checks the statuses a shell
// sees, through main and os.Exit.
func TestBinaryExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "runplug")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	faults := plugintest.Build(t, "faults")
	tests := []struct {
		args []string
		code int
		out  string // what the output must hold, when set
	}{
		{nil, exitOK, ""},
		// The plugin's C stdio output comes out, before the result.
		{[]string{"call", "libc.so.6", "printf", "s:%d-%s-%.1f\n", "...", "42", "s:hi", "d:2.5"}, exitOK, "42-hi-2.5\n10\n"},
		{[]string{"inspect", faults}, exitOK, ""},
		{[]string{"call", faults, "faults_ok", "1", "2"}, exitOK, ""},
		{[]string{"call", faults, "fault_null_read"}, exitFault, ""},
		{[]string{"call", faults, "fault_recurse", "0"}, exitFault, ""},
		{[]string{"call", faults, "no_such_symbol"}, exitError, ""},
		{[]string{"inspect", os.DevNull}, exitError, ""},
		{[]string{"inspect"}, exitUsage, ""},
		{[]string{"frobnicate"}, exitUsage, ""},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin, tt.args...)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("runplug %s: %v", strings.Join(tt.args, " "), err)
		}
		if code != tt.code {
			t.Errorf("runplug %s: exit %d, want %d\n%s", strings.Join(tt.args, " "), code, tt.code, out)
		}
		if !strings.Contains(string(out), tt.out) {
			t.Errorf("runplug %s: output %q, want it to hold %q", strings.Join(tt.args, " "), out, tt.out)
		}
		if strings.Contains(string(out), "goroutine ") || strings.Contains(string(out), "panic:") {
			t.Errorf("runplug %s: Go crash output:\n%s", strings.Join(tt.args, " "), out)
		}
	}
}

// TestUnsupportedBuildSaysSo builds the command without cgo, the build
// that cannot run plugins: commands that would run plugin code fail with
// one line saying what is needed; inspect and version still work.
func TestUnsupportedBuildSaysSo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "runplug-nocgo")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	faults := plugintest.Build(t, "faults")
	for _, args := range [][]string{nil, {"demo"}, {"call", faults, "faults_ok", "1", "2"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitError {
			t.Errorf("runplug %q: %v, want exit status %d", args, err, exitError)
		}
		if strings.Count(string(out), "\n") != 1 || !strings.Contains(string(out), "needs linux/amd64 or linux/arm64 built with cgo") {
			t.Errorf("runplug %q printed %q, want one line saying what is needed", args, out)
		}
	}
	for _, args := range [][]string{{"inspect", faults}, {"version"}, {"help", "call"}} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Errorf("runplug %q: %v\n%s", args, err, out)
		}
	}
}
