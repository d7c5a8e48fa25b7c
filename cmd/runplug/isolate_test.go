package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
)

// TestCallIsolate: `runplug call --isolate` runs the plugin in a child
// (this test binary, re-executed): a string argument crosses, a fault is
// exit status 3 with a report, a forbidden system call is named, and
// what the plugin prints comes out.
func TestCallIsolate(t *testing.T) {
	so := plugintest.Build(t, "isolate_faults")
	hostile := plugintest.Build(t, "hostile")
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--isolate", so, "str_len", "s:across"}, exitOK, "6\n", ""},
		{[]string{"--isolate", so, "add", "40", "2"}, exitOK, "42\n", ""},
		{[]string{"--isolate", so, "null_read"}, exitFault, "", "plugin faulted: SIGSEGV (SEGV_MAPERR) at 0x0: not mapped"},
		{[]string{"--isolate", so, "do_exec"}, 1, "", "forbidden system call execve (59)"},
		{[]string{"--isolate", "--ret", "str", so, "add"}, 2, "", "--ret str"},
		// The child's output reaches the command's, before the result.
		{[]string{"--isolate", "libc.so.6", "printf", "s:hi %d\n", "42"}, exitOK, "hi 42\n6\n", ""},
		// system() blocks every signal around its clone3: the host's
		// seccomp listener names it all the same.
		{[]string{"--isolate", "libc.so.6", "system", "s:true"}, 1, "", "forbidden system call clone3 (435), flags CLONE_VM|CLONE_VFORK"},
		// Calls only the run phase forbids, made with every signal
		// blocked: named too.
		{[]string{"--isolate", hostile, "memfd_blocked"}, 1, "", "forbidden system call memfd_create (319), allowed only while the plugin loads"},
		{[]string{"--isolate", hostile, "pdeathsig_blocked"}, 1, "", "forbidden system call prctl (157), allowed only while the plugin loads"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(append([]string{"call"}, tt.args...), &out, &errb)
		if code != tt.code || out.String() != tt.stdout || !strings.Contains(errb.String(), tt.stderr) {
			t.Errorf("call %v: code %d, stdout %q, stderr %q; want %d, %q, %q", tt.args, code, out.String(), errb.String(), tt.code, tt.stdout, tt.stderr)
		}
	}
}

// TestDemoIsolate: `runplug demo --isolate` shows the isolated part.
func TestDemoIsolate(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--isolate"}, &out, &errb); code != exitOK {
		t.Fatalf("demo --isolate: %d: %s", code, errb.String())
	}
	for _, want := range []string{"5. isolate:", "crash() in the child: SIGSEGV", "restarted (pid", "the child process is gone"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
